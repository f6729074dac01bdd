"""Train a word-piece LSTM language model on the bundled Moby Dick and report its perplexity.

    python recipes/language_model.py --quick --out runs/lm_quick     # minutes on 2 CPU cores
    python recipes/language_model.py --out runs/lm                   # the full config
    python recipes/language_model.py --quick --train-text train.txt --dev-text dev.txt \
        --test-text test.txt                                         # your own text files

Paragraphs are cut into sentences (after ``.``, ``!`` or ``?``); `keras_seq.RNNLanguageModel`
(tied embeddings) is trained with plain `model.fit` on the train chapters, the epoch with the
best dev perplexity is kept, and the test chapters are scored (perplexity per word piece, ``</s>``
included). Greedy and nucleus samples are printed. With --train-text, --dev-text and --test-text
the three splits are your own plain-text files instead (`keras_seq.datasets.read_text`: every
non-blank line a paragraph, cut into sentences the same way), and the prompts are the first
words of two test sentences and the empty prompt. The output directory receives:

    model.keras         the best model, tokenizer included (reload with keras.saving.load_model)
    vocabulary.txt      the word-piece vocabulary, one piece per line
    history.json        per-epoch loss / perplexity (train and dev)
    results.json        the configuration, data sizes, timings, validation (dev) and test
                        perplexity, and samples
    backup/             BackupAndRestore state: rerun the same command to resume a killed run
"""

import os
import re
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from _common import (  # noqa: E402  (recipes/_common.py, next to this file)
    add_own_data_arguments,
    build_for_fit,
    finish,
    fit_epochs,
    own_data_paths,
    prepare,
    read_own_data,
    recipe_parser,
    train_stream,
    training_callbacks,
    write_history,
    write_json,
)

from keras_seq.cli import bounded_number  # noqa: E402
from keras_seq.datasets import load_moby_dick, read_text  # noqa: E402
from keras_seq.losses import MaskedSequenceLoss  # noqa: E402
from keras_seq.metrics import Perplexity  # noqa: E402
from keras_seq.models.rnn_language_model import RNNLanguageModel  # noqa: E402
from keras_seq.pipelines import language_model_dataset  # noqa: E402
from keras_seq.text import WordPieceTokenizer  # noqa: E402

CONFIGS = {
    # Good for debugging on a laptop: a few minutes on 2 CPU cores.
    "quick": dict(
        vocabulary_size=2000,
        embedding_dim=128,
        units=128,
        num_layers=1,
        dropout=0.1,
        epochs=8,
        batch_size=64,
        learning_rate=3e-3,
        sequence_length=96,
    ),
    "full": dict(
        vocabulary_size=8000,
        embedding_dim=256,
        units=512,
        num_layers=2,
        dropout=0.3,
        epochs=20,
        batch_size=64,
        learning_rate=1e-3,
        sequence_length=96,
    ),
}
PROMPTS = ["Call me", "The whale", "It was the", ""]


# After ., ! or ? and a space; after the full-width 。！？ (Chinese, Japanese), which no space
# follows, with or without one, and after the closing quote or bracket that may follow them.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])\s+"
    r"|(?<=[\u3002\uff01\uff1f])(?![\u201d\u2019\u300d\u300f\uff09])\s*"
    r"|(?<=[\u3002\uff01\uff1f][\u201d\u2019\u300d\u300f\uff09])\s*"
)


def sentences(paragraphs):
    """Sentences of the paragraphs: cut after ., ! or ? followed by a space, and after the
    full-width 。, ！ or ？ (a Chinese or Japanese paragraph was one sentence, dropped once
    longer than ``sequence_length``)."""
    return [s for p in paragraphs for s in _SENTENCE_END.split(p) if s.strip()]


def load_paragraphs(args):
    """``{split: [paragraph, ...]}`` of --train-text, --dev-text and --test-text (every
    non-blank line a paragraph), or of Moby Dick; exits naming the flag and the file when
    one cannot be read or holds no text."""
    paths = own_data_paths(args, "text", "text file")
    if not paths:
        return {split: load_moby_dick(split) for split in ("train", "dev", "test")}
    return read_own_data(paths, "text", lambda path: read_text(path, strict=False), "text")


def prompts_of(test_sentences, own_data):
    """The sampling prompts: Moby Dick's, or the first two words of the first two test
    sentences and the empty prompt."""
    if not own_data:
        return PROMPTS
    return [" ".join(sentence.split()[:2]) for sentence in test_sentences[:2]] + [""]


def make_parser():
    """The recipe's argument parser: `recipe_parser`'s flags and its own."""
    parser = recipe_parser(__doc__.split("\n")[0], "runs/language_model")
    parser.add_argument(
        "--max-train-examples", type=bounded_number(int, 1), help="use only this many sentences"
    )
    parser.add_argument(
        "--max-eval-examples", type=bounded_number(int, 1), help="cap dev and test sentences"
    )
    parser.add_argument(
        "--max-length", type=bounded_number(int, 1), default=40, help="word pieces per sample"
    )
    add_own_data_arguments(
        parser,
        "text",
        "your own UTF-8 text training file instead of Moby Dick (with --dev-text and "
        "--test-text): every non-blank line a paragraph; plain, gzip, bzip2 or xz",
    )
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    paragraphs = load_paragraphs(args)
    config, run = prepare(
        args,
        CONFIGS,
        limits={"vocabulary_size": len(WordPieceTokenizer.SPECIAL_TOKENS)},
        scoring_arguments=("max_length",),  # the samples' length, read after training only
    )

    train = sentences(paragraphs["train"])[: args.max_train_examples]
    dev = sentences(paragraphs["dev"])[: args.max_eval_examples]
    test = sentences(paragraphs["test"])[: args.max_eval_examples]
    prompts = prompts_of(test, own_data=bool(args.train_text))
    print(f"sentences: train {len(train)}, dev {len(dev)}, test {len(test)}")

    started = time.perf_counter()
    tokenizer = WordPieceTokenizer.from_corpus(train, config["vocabulary_size"])
    tokenizer.save_assets(run.out)
    print(f"vocabulary: {tokenizer.vocabulary_size} ({time.perf_counter() - started:.0f} s)")

    def pipeline(texts, shuffle):
        return language_model_dataset(
            texts,
            tokenizer,
            batch_size=config["batch_size"],
            sequence_length=config["sequence_length"],
            shuffle=shuffle,
            seed=args.seed,
        )

    dataset, statistics = pipeline(train, shuffle=True)
    dev_dataset, dev_statistics = pipeline(dev, shuffle=False)
    test_dataset, test_statistics = pipeline(test, shuffle=False)
    print(f"pipeline: {statistics}")
    dataset, steps_per_epoch = train_stream(run, dataset, args.steps_per_epoch)
    # An empty split would train first and then fail without the perplexity to select on
    # (the dev split) or to report (the test split).
    for split, split_statistics in (("dev", dev_statistics), ("test", test_statistics)):
        if not split_statistics.num_kept:
            raise SystemExit(
                f"the {split} split holds no sentence that fits in sequence_length "
                f"({config['sequence_length']} word pieces): nothing to "
                f"{'select the best epoch on' if split == 'dev' else 'score'} (raise "
                "--max-eval-examples or --set sequence_length=...)"
            )

    with run.strategy.scope():  # variables mirrored over the replicas
        model = RNNLanguageModel(
            embedding_dim=config["embedding_dim"],
            units=config["units"],
            num_layers=config["num_layers"],
            dropout=config["dropout"],
            tie_weights=True,
            tokenizer=tokenizer,
        )
        model.build()  # BackupAndRestore needs the weights before `fit`
        model.compile(
            keras.optimizers.Adam(config["learning_rate"], clipnorm=5.0),
            MaskedSequenceLoss(),
            metrics=[Perplexity()],
        )
        build_for_fit(run, model, dataset)
    # The corpus perplexity, a mean over every dev token: Keras' val_loss averages the batches'
    # token means by batch size, which weighs a token of a short batch more.
    callbacks, best_path = training_callbacks(run, monitor="val_perplexity")
    history = model.fit(
        dataset,
        validation_data=dev_dataset,
        epochs=fit_epochs(run, config["epochs"]),
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles
        verbose=2,
    )
    write_history(run.out, history, run.history)

    best = keras.saving.load_model(best_path)
    dev_scores = best.evaluate(dev_dataset, verbose=0, return_dict=True)
    scores = best.evaluate(test_dataset, verbose=0, return_dict=True)
    print(f"validation perplexity (per word piece): {dev_scores['perplexity']:.2f}")
    print(f"test perplexity (per word piece): {scores['perplexity']:.2f}")
    samples = {
        "greedy": best.generate(prompts, max_length=args.max_length),
        "top_p_0.9": best.generate(prompts, max_length=args.max_length, top_p=0.9, seed=0),
    }
    for name, texts in samples.items():
        for text in texts:
            print(f"  [{name}] {text}")
    results = {
        "config": config,
        "train_sentences": len(train),
        "test_sentences_scored": test_statistics.num_kept,
        # train_seconds, resumed, train_seconds_per_process: the whole run's (TrainingClock)
        **run.clock.report(),
        "dev_loss": dev_scores["loss"],
        "dev_perplexity": dev_scores["perplexity"],
        "test_loss": scores["loss"],
        "test_perplexity": scores["perplexity"],
        "samples": samples,
    }
    write_json(run.out, "results.json", results)
    finish(run)  # the backup is kept until now: a failure while scoring resumes, not retrains
    print(f"wrote {best_path} and {os.path.join(run.out, 'results.json')}")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)

"""Train a BiLSTM part-of-speech tagger on the bundled Brown corpus (12 universal tags).

    python recipes/tagger.py --quick --out runs/tagger_quick     # minutes on 2 CPU cores
    python recipes/tagger.py --out runs/tagger                   # the full config
    python recipes/tagger.py --quick --train-conll train.conllu --dev-conll dev.conllu \
        --test-conll test.conllu --word-column 1 --tag-column 3  # your own CoNLL(-U) files

`keras_seq.SequenceTagger` is trained with plain `model.fit` on the Brown train files, the
epoch with the best dev token accuracy is kept, and the test files are scored: token accuracy
overall and per gold tag. With --train-conll, --dev-conll and --test-conll the three splits are
your own CoNLL / CoNLL-U files instead (`keras_seq.datasets.read_conll`: words in
--word-column, tags in --tag-column; malformed sentences are skipped and counted), and the tag
set is every tag found in the three files. The output directory receives:

    model.keras         the best model, tokenizer included (reload with keras.saving.load_model)
    vocabulary.txt      the word vocabulary, one word per line
    history.json        per-epoch loss / token accuracy (train and dev)
    results.json        the configuration, data sizes, timings and test accuracies
    backup/             BackupAndRestore state: rerun the same command to resume a killed run
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _common import (  # noqa: E402  (recipes/_common.py, next to this file)
    add_own_data_arguments,
    build_for_fit,
    finish,
    fit_epochs,
    labels_of_splits,
    own_data_paths,
    prepare,
    read_own_data,
    recipe_parser,
    refuse_without_own_data,
    train_stream,
    training_callbacks,
    write_history,
    write_json,
)

from keras_seq.cli import bounded_number  # noqa: E402
from keras_seq.datasets import load_brown_pos, read_conll  # noqa: E402
from keras_seq.datasets.brown import UNIVERSAL_TAGS  # noqa: E402
from keras_seq.losses import MaskedSequenceLoss  # noqa: E402
from keras_seq.metrics import MaskedAccuracy  # noqa: E402
from keras_seq.models.sequence_tagger import SequenceTagger  # noqa: E402
from keras_seq.pipelines import tagging_dataset  # noqa: E402
from keras_seq.text import WordTokenizer  # noqa: E402

CONFIGS = {
    # Good for debugging on a laptop: a few minutes on 2 CPU cores.
    "quick": dict(
        max_train_sentences=8000,
        min_count=2,
        embedding_dim=64,
        units=64,
        num_layers=1,
        dropout=0.2,
        epochs=3,
        batch_size=64,
        learning_rate=5e-3,
    ),
    "full": dict(
        max_train_sentences=None,
        min_count=2,
        embedding_dim=128,
        units=128,
        num_layers=2,
        dropout=0.3,
        epochs=2,  # dev accuracy 96.69% → 96.82% after epochs 1 → 2 (docs/results.md)
        batch_size=64,
        learning_rate=2e-3,
    ),
}


def per_tag_accuracy(model, dataset, tags):
    """``{tag: (correct, count)}`` over the gold tags of a ``(token_ids, tag_ids)`` dataset."""
    correct = np.zeros(len(tags) + 1)
    count = np.zeros(len(tags) + 1)
    for token_ids, tag_ids in dataset:
        predicted = model.predict_tag_ids(token_ids).numpy()
        gold = tag_ids.numpy()
        valid = gold > 0
        np.add.at(count, gold[valid], 1)
        np.add.at(correct, gold[valid], predicted[valid] == gold[valid])
    return {tag: (int(correct[i + 1]), int(count[i + 1])) for i, tag in enumerate(tags)}


def load_sentences(args):
    """``({split: [(words, tags), ...]}, tags)``: the files of --train-conll, --dev-conll and
    --test-conll with every tag found in them (sorted), or Brown with its 12 universal tags.
    Exits with a usage message for --word-column / --tag-column without the files, and names
    the flag and the file when one cannot be read or holds no tagged sentence."""
    paths = own_data_paths(args, "conll", "CoNLL file")
    if not paths:
        refuse_without_own_data(args, ("word_column", "tag_column"), "conll", "CoNLL")
        # The corpus's fixed tag set (sorted: the ids of a full run, whose train split holds
        # every tag), not the tags of the train sentences kept: a small --max-train-examples
        # lacked tags of dev and test.
        return {split: load_brown_pos(split) for split in ("train", "dev", "test")}, sorted(
            UNIVERSAL_TAGS
        )
    word_column = 0 if args.word_column is None else args.word_column
    tag_column = -1 if args.tag_column is None else args.tag_column
    splits = read_own_data(
        paths,
        "conll",
        lambda path: read_conll(path, word_column, tag_column, strict=False),
        "tagged sentence",
    )
    return splits, labels_of_splits(splits, lambda example: example[1], "tags")


def make_parser():
    """The recipe's argument parser: `recipe_parser`'s flags and its own."""
    parser = recipe_parser(__doc__.split("\n")[0], "runs/tagger")
    parser.add_argument(
        "--max-train-examples", type=bounded_number(int, 1), help="use only this many sentences"
    )
    parser.add_argument(
        "--max-eval-examples", type=bounded_number(int, 1), help="cap dev and test sentences"
    )
    add_own_data_arguments(
        parser,
        "conll",
        "your own CoNLL / CoNLL-U training file instead of Brown (with --dev-conll and "
        "--test-conll): one token a line, sentences separated by blank lines; plain, gzip, "
        "bzip2 or xz",
    )
    parser.add_argument(
        "--word-column",
        type=int,
        help="column of the words in your CoNLL files (default 0; CoNLL-U FORM: 1)",
    )
    parser.add_argument(
        "--tag-column",
        type=int,
        help="column of the tags in your CoNLL files (default -1, the last; CoNLL-U UPOS: 3)",
    )
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    splits, tags = load_sentences(args)
    config, run = prepare(args, CONFIGS)
    if args.max_train_examples:
        config["max_train_sentences"] = args.max_train_examples

    train = splits["train"][: config["max_train_sentences"]]
    dev = splits["dev"][: args.max_eval_examples]
    test = splits["test"][: args.max_eval_examples]
    print(f"sentences: train {len(train)}, dev {len(dev)}, test {len(test)}")
    tokenizer = WordTokenizer.from_corpus(
        [words for words, _ in train], min_count=config["min_count"], lowercase=True
    )
    tokenizer.save_assets(run.out)
    print(f"vocabulary: {tokenizer.vocabulary_size} words, {len(tags)} tags: {' '.join(tags)}")

    def pipeline(examples, shuffle):
        return tagging_dataset(
            examples, tokenizer, tags, config["batch_size"], shuffle=shuffle, seed=args.seed
        )

    dataset, statistics = pipeline(train, shuffle=True)
    dev_dataset, _ = pipeline(dev, shuffle=False)
    test_dataset, _ = pipeline(test, shuffle=False)
    print(f"pipeline: {statistics}")
    dataset, steps_per_epoch = train_stream(run, dataset, args.steps_per_epoch)

    with run.strategy.scope():  # variables mirrored over the replicas
        model = SequenceTagger(
            tags,
            embedding_dim=config["embedding_dim"],
            units=config["units"],
            num_layers=config["num_layers"],
            dropout=config["dropout"],
            tokenizer=tokenizer,
        )
        model.build()  # BackupAndRestore needs the weights before `fit`
        model.compile(
            keras.optimizers.Adam(config["learning_rate"], clipnorm=5.0),
            MaskedSequenceLoss(),
            metrics=[MaskedAccuracy()],
        )
        build_for_fit(run, model, dataset)
    callbacks, best_path = training_callbacks(run, monitor="val_masked_accuracy", mode="max")
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
    per_tag = per_tag_accuracy(best, test_dataset, tags)
    correct = sum(c for c, _ in per_tag.values())
    total = sum(n for _, n in per_tag.values())
    accuracy = correct / max(total, 1)
    print(f"test token accuracy: {accuracy:.4f} ({total} tokens)")
    print(f"  {'tag':6} {'accuracy':>8} {'tokens':>7}")
    for tag, (c, n) in sorted(per_tag.items(), key=lambda item: -item[1][1]):
        print(f"  {tag:6} {f'{c / n:8.4f}' if n else '       -'} {n:7d}")
    examples = (
        [" ".join(words) for words, _ in test[:2]]
        if args.train_conll
        else ["The old man looked at the sea .", "She runs fast ."]
    )
    for tokens, predicted in best.tag(examples):
        print("  " + " ".join(f"{w}/{t}" for w, t in zip(tokens, predicted, strict=True)))
    results = {
        "config": config,
        "train_sentences": len(train),
        # train_seconds, resumed, train_seconds_per_process: the whole run's (TrainingClock)
        **run.clock.report(),
        "test_tokens": total,
        "test_token_accuracy": accuracy,
        "test_accuracy_per_tag": {
            # A tag without test tokens has no accuracy (null), rather than a 0 read as a miss.
            tag: {"accuracy": c / n if n else None, "tokens": n}
            for tag, (c, n) in per_tag.items()
        },
    }
    write_json(run.out, "results.json", results)
    finish(run)  # the backup is kept until now: a failure while scoring resumes, not retrains
    print(f"wrote {best_path} and {os.path.join(run.out, 'results.json')}")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)

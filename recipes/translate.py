"""Train a translator (German→English on the bundled Ding corpus by default) and score it.

    python recipes/translate.py --quick --out runs/translate_quick     # minutes on 2 CPU cores
    python recipes/translate.py --out runs/translate                   # the published config
    python recipes/translate.py --quick --corpus bible_es_en          # Bible verses, es→en

Trains `keras_seq.Seq2Seq` with plain `model.fit` on the train split (or your own files:
source<TAB>target lines, or a source and a target file aligned line by line),
selects the epoch with the best dev BLEU (greedy), then reports greedy and beam-search BLEU and
chrF (sacrebleu, 13a, cased) on the test split. The output directory receives:

    model.keras         the best model, tokenizers included (reload with keras.saving.load_model)
    history.json        per-epoch loss / accuracy / perplexity / dev BLEU
    results.json        the configuration, data sizes, timings and test scores
    test.hyp.txt        beam-search translations of the test split, one per line (line
                        breaks inside a translation written as spaces): line i translates
                        the i-th test pair read, so with your own files it lines up with
                        the test file only when no line of it was blank or skipped
    attention_<i>.png   with --plot-attention N: the attention of test translation i < N
    backup/             BackupAndRestore state: rerun the same command to resume a killed run
"""

import os
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

from keras_seq.callbacks.atomic_model_checkpoint import write_atomically  # noqa: E402
from keras_seq.cli import bounded_number, one_line  # noqa: E402
from keras_seq.datasets import (  # noqa: E402
    load_bible,
    load_ding,
    read_parallel_files,
    read_parallel_tsv,
)
from keras_seq.evaluation import (  # noqa: E402
    BleuEvaluation,
    attention_alignment,
    corpus_bleu,
    corpus_chrf,
    plot_attention,
)
from keras_seq.losses import MaskedSequenceLoss  # noqa: E402
from keras_seq.metrics import MaskedAccuracy, Perplexity  # noqa: E402
from keras_seq.models import Seq2Seq  # noqa: E402
from keras_seq.pipelines import translation_dataset  # noqa: E402
from keras_seq.text import WordPieceTokenizer  # noqa: E402

CONFIGS = {
    # Good for debugging on a laptop: a few minutes on 2 CPU cores.
    "quick": dict(
        vocabulary_size=2000,
        embedding_dim=64,
        units=128,
        encoder_layers=1,
        decoder_layers=1,
        dropout=0.1,
        tie_embeddings=False,
        epochs=4,
        batch_size=64,
        learning_rate=3e-3,
        max_length=40,
        dev_examples=300,
        tokenizer_sentences=6000,
    ),
    # The configuration whose figures docs/results.md publishes, sized for 2 CPU cores:
    # BiLSTM 2x192 -> LSTM 384 with Luong attention. A 2+2-layer 512-unit model trains 1.7x
    # slower per step (880 vs 510 ms measured, batch 64), over 2.5 hours for 25 epochs, and
    # has 2.4x the parameters for only 16,810 train pairs. Regularized: with dropout 0.3,
    # 6,000 pieces and an untied output matrix the same model overfitted (train perplexity
    # 3.2, test BLEU 2.3 greedy / 2.6 beam); dropout 0.5, 4,000 pieces and the output
    # matrix tied to the target embedding reached 8.5 / 9.3 (docs/results.md).
    "full": dict(
        vocabulary_size=4000,
        embedding_dim=256,
        units=384,
        encoder_layers=1,
        decoder_layers=1,
        dropout=0.5,
        tie_embeddings=True,
        epochs=20,
        batch_size=64,
        learning_rate=2e-3,
        max_length=60,
        dev_examples=918,
        tokenizer_sentences=None,
    ),
}


def _even(units):
    """What is wrong with ``units`` for the recipe's `Seq2Seq` (None when fine): its
    bidirectional encoder gives each direction ``units // 2``."""
    if units % 2:
        return "must be even (the bidirectional encoder has units // 2 per direction)"
    return None


# Checked before anything is read or written: an odd ``units`` failed in `Seq2Seq` with a
# traceback, once the corpus was loaded, the tokenizers learned and --out/backup written.
LIMITS = {"vocabulary_size": len(WordPieceTokenizer.SPECIAL_TOKENS), "units": _even}


# The bundled corpora of --corpus: ``split -> [(source, target), ...]``.
CORPORA = {
    "ding": load_ding,  # German -> English
    "bible_en_es": lambda split: load_bible(split, source="en"),
    "bible_es_en": lambda split: load_bible(split, source="es"),
}


def tsv_paths(args):
    """``{split: path}`` of --train-tsv, --dev-tsv and --test-tsv (empty for the bundled Ding
    corpus); exits with a usage message unless all three name existing files (not
    directories), or none is given."""
    return own_data_paths(args, "tsv", "source<TAB>target file")


def pair_paths(args):
    """Your own pairs: ``{split: path}`` of `tsv_paths`, or ``{split: (source, target)}`` of
    --train-source/--train-target and their dev and test twins (two files aligned line by
    line, as Europarl and the Moses-format corpora of OPUS come); empty for the bundled Ding
    corpus. Exits with a usage message when both kinds are given, one side of the aligned
    files without the other, or your own files beside --corpus."""
    aligned = [
        f"--{split}-{side}"
        for split in ("train", "dev", "test")
        for side in ("source", "target")
        if getattr(args, f"{split}_{side}") is not None
    ]
    tsv = tsv_paths(args)
    if aligned and tsv:
        raise SystemExit(
            f"--train-tsv and {aligned[0]} are two ways to give your pairs: give the TSV files "
            "or the aligned source and target files, not both"
        )
    sources = own_data_paths(args, "source", "source-language file")
    targets = own_data_paths(args, "target", "target-language file")
    if bool(sources) != bool(targets):
        given, missing = ("source", "target") if sources else ("target", "source")
        raise SystemExit(
            f"--train-{given}, --dev-{given} and --test-{given} need their aligned "
            f"--train-{missing}, --dev-{missing} and --test-{missing} files"
        )
    paths = {split: (sources[split], targets[split]) for split in sources} or tsv
    if paths and getattr(args, "corpus", None) is not None:
        raise SystemExit(
            f"--corpus {args.corpus} is a bundled corpus; your own files (--train-tsv or "
            "--train-source/--train-target, with their dev and test twins) replace it: give "
            "one or the other"
        )
    return paths


def _require_matplotlib():
    """Exits unless matplotlib (the optional ``plot`` extra) can be imported: found before
    training, not as an ImportError once the model is trained and scored."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit(
            "--plot-attention needs matplotlib, the optional `plot` extra: "
            "pip install 'keras-seq[plot]' (or matplotlib>=3.8), or leave --plot-attention out"
        ) from None


def load_pairs(paths, corpus=None):
    """``{split: [(source, target), ...]}`` of the files of `pair_paths`, or of the bundled
    ``corpus`` (a name of `CORPORA`; None: Ding) when there are none; exits naming the flag
    and the file when a file cannot be read (a corrupt compressed file, say), aligned files
    differ in length, or a split holds no valid pair."""
    if not paths:
        return {name: CORPORA[corpus or "ding"](name) for name in ("train", "dev", "test")}
    if isinstance(paths["train"], tuple):
        return read_own_data(
            paths,
            ("source", "target"),
            lambda source, target: read_parallel_files(source, target, strict=False),
            "source and target pair",
        )
    return read_own_data(
        paths,
        "tsv",
        lambda path: read_parallel_tsv(path, strict=False),
        "source<TAB>target pair",
    )


def write_hypotheses(path, hypotheses):
    """``path``: the hypotheses, one a line, a line break inside one written as a space
    (`keras_seq.cli.one_line`): line i stays the translation of test source i. Written
    through a temporary file (`write_atomically`): a failure or a kill meanwhile leaves the
    previous file whole (opened in place, it was emptied first, and a truncated file had fewer
    lines than the test set without any error)."""
    text = "".join(one_line(hypothesis) + "\n" for hypothesis in hypotheses)
    write_atomically(path, lambda f: f.write(text))


def learn_tokenizers(pairs, vocabulary_size):
    """The source and the target `WordPieceTokenizer`, learned from ``pairs``."""
    return tuple(
        WordPieceTokenizer.from_corpus(
            [pair[side] for pair in pairs], vocabulary_size, name=f"{name}_tokenizer"
        )
        for side, name in ((0, "source"), (1, "target"))
    )


def training_data(train, source_tokenizer, target_tokenizer, config, seed):
    """``(dataset, statistics)`` of `translation_dataset` with the configuration's batch size
    and length limits."""
    return translation_dataset(
        train,
        source_tokenizer,
        target_tokenizer,
        batch_size=config["batch_size"],
        max_source_length=config["max_length"],
        max_target_length=config["max_length"],
        seed=seed,
    )


def trained_target_tokens(train, source_tokenizer, target_tokenizer, config):
    """Tokens the decoder is trained on per epoch, for tokens/s: target ids plus ``</s>`` of
    the pairs `training_data` keeps (it drops a pair with an empty side, a source of over
    ``max_length`` ids or a ``<s> y`` of over ``max_length``; counting those too overstated
    the rate)."""
    source_lengths = source_tokenizer.tokenize([s for s, _ in train]).row_lengths().numpy()
    target_lengths = target_tokenizer.tokenize([t for _, t in train]).row_lengths().numpy()
    kept = (
        (source_lengths > 0)
        & (target_lengths > 0)
        & (source_lengths <= config["max_length"])
        & (target_lengths + 1 <= config["max_length"])
    )
    return int((target_lengths[kept] + 1).sum())


def compiled_model(config, **vocabularies):
    """The configuration's `Seq2Seq`, built (BackupAndRestore needs the weights before `fit`)
    and compiled; ``vocabularies``: its two tokenizers, or its two vocabulary sizes."""
    model = Seq2Seq(
        embedding_dim=config["embedding_dim"],
        units=config["units"],
        encoder_layers=config["encoder_layers"],
        decoder_layers=config["decoder_layers"],
        dropout=config["dropout"],
        tie_embeddings=config["tie_embeddings"],
        **vocabularies,
    )
    model.build()
    model.compile(
        keras.optimizers.Adam(config["learning_rate"], clipnorm=5.0),
        MaskedSequenceLoss(label_smoothing=0.1),
        metrics=[MaskedAccuracy(), Perplexity()],
    )
    return model


def make_parser():
    """The recipe's argument parser: `recipe_parser`'s flags and its own."""
    parser = recipe_parser(__doc__.split("\n")[0], "runs/translate")
    parser.add_argument(
        "--max-train-pairs", type=bounded_number(int, 1), help="use only this many train pairs"
    )
    parser.add_argument(
        "--max-eval-examples", type=bounded_number(int, 1), help="cap dev and test pairs"
    )
    parser.add_argument(
        "--corpus",
        choices=sorted(CORPORA),
        help="the bundled corpus to train on (default ding, German -> English; bible_en_es "
        "and bible_es_en: KJV / Reina-Valera 1909 verses, long: --quick keeps about half)",
    )
    parser.add_argument("--beam-size", type=bounded_number(int, 1), default=4)
    parser.add_argument(
        "--length-penalty",
        type=bounded_number(float, 0),
        default=0.6,
        help="GNMT alpha of the beam search (0: none)",
    )
    add_own_data_arguments(
        parser,
        "tsv",
        "your own source<TAB>target training file instead of the bundled corpus of --corpus "
        "(with --dev-tsv and --test-tsv); plain, gzip, bzip2 or xz",
    )
    add_own_data_arguments(
        parser,
        "source",
        "your own source-language training file, aligned line by line with --train-target "
        "(with --dev-source/--dev-target and --test-source/--test-target), instead of the "
        "bundled corpus of --corpus or --train-tsv; plain, gzip, bzip2 or xz",
    )
    add_own_data_arguments(
        parser, "target", "your own target-language training file, aligned with --train-source"
    )
    parser.add_argument(
        "--plot-attention",
        type=bounded_number(int, 0),
        default=0,
        metavar="N",
        help="save the attention matrices of the first N test translations as PNG",
    )
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    if args.plot_attention:
        _require_matplotlib()
    paths = pair_paths(args)
    config, run = prepare(
        args,
        CONFIGS,
        limits=LIMITS,
        # Read by the test scoring only: a killed run may be resumed to score otherwise.
        scoring_arguments=("beam_size", "length_penalty", "plot_attention"),
    )

    pairs = load_pairs(paths, args.corpus)
    train = pairs["train"][: args.max_train_pairs] if args.max_train_pairs else pairs["train"]
    dev = pairs["dev"][: min(config["dev_examples"], args.max_eval_examples or len(pairs["dev"]))]
    test = pairs["test"][: args.max_eval_examples]
    print(f"pairs: train {len(train)}, dev {len(dev)} (for selection), test {len(test)}")

    started = time.perf_counter()
    # The WordPiece learner is pure Python: the quick config learns from the first sentences.
    source_tokenizer, target_tokenizer = learn_tokenizers(
        train[: config["tokenizer_sentences"]], config["vocabulary_size"]
    )
    print(
        f"vocabularies: source {source_tokenizer.vocabulary_size}, "
        f"target {target_tokenizer.vocabulary_size} ({time.perf_counter() - started:.0f} s)"
    )
    dataset, statistics = training_data(
        train, source_tokenizer, target_tokenizer, config, seed=args.seed
    )
    print(f"pipeline: {statistics}")
    dataset, steps_per_epoch = train_stream(run, dataset, args.steps_per_epoch)

    with run.strategy.scope():  # variables mirrored over the replicas
        model = compiled_model(
            config, source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer
        )
        build_for_fit(run, model, dataset)
    dev_evaluation = BleuEvaluation([s for s, _ in dev], [t for _, t in dev], beam_size=1)
    run.clock.time_part("dev_evaluation_seconds", lambda: dev_evaluation.seconds)
    callbacks, best_path = training_callbacks(
        run, monitor="val_bleu", mode="max", patience=4, before=[dev_evaluation]
    )
    history = model.fit(
        dataset,
        epochs=fit_epochs(run, config["epochs"]),
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=2,
        shuffle=False,  # the pipeline shuffles
    )
    target_tokens = trained_target_tokens(train, source_tokenizer, target_tokenizer, config)
    write_history(run.out, history, run.history)

    best = keras.saving.load_model(best_path)
    sources = [s for s, _ in test]
    references = [t for _, t in test]
    # `fit`'s wall time includes the dev-set decoding of every epoch; the tokens/s are those
    # of the training steps alone. Times, epochs and tokens/s are the whole run's, every
    # process of a resumed run included.
    times = run.clock.report()
    results = {
        "config": config,
        "corpus": "your own files" if paths else args.corpus or "ding",
        "train_pairs": len(train),
        **times,
        "epochs_run": len(run.history) + len(history.epoch),
    }
    # Not known for the time of a backup of an older keras_seq; not a rate of whole epochs
    # with --steps-per-epoch.
    if not args.steps_per_epoch and results["epochs_run"] and times["train_seconds"] is not None:
        results["train_target_tokens_per_second"] = (
            target_tokens
            * results["epochs_run"]
            / (times["train_seconds"] - times["dev_evaluation_seconds"])
        )
    for name, beam in (("greedy", 1), ("beam", args.beam_size)):
        started = time.perf_counter()
        hypotheses = best.translate(sources, beam_size=beam, length_penalty=args.length_penalty)
        seconds = time.perf_counter() - started
        bleu, chrf = corpus_bleu(hypotheses, references), corpus_chrf(hypotheses, references)
        results[name] = {
            "beam_size": beam,
            "bleu": bleu.score,
            "chrf": chrf.score,
            "bleu_signature": str(bleu),
            "decode_seconds": seconds,
        }
        print(
            f"test {name} (k={beam}): BLEU {bleu.score:.2f}, chrF {chrf.score:.2f}, {seconds:.1f} s"
        )
        if name == "beam":
            write_hypotheses(os.path.join(run.out, "test.hyp.txt"), hypotheses)
    for source, reference, hypothesis in list(zip(sources, references, hypotheses, strict=True))[
        :5
    ]:
        # SRC, not DE: the source is German only for Ding (--corpus bible_en_es is English,
        # bible_es_en Spanish, your own files anything).
        print(f"  SRC {source}\n  REF {reference}\n  HYP {hypothesis}")
    for index, (source, _) in enumerate(test[: args.plot_attention]):
        path = os.path.join(run.out, f"attention_{index}.png")
        # The attention of the beam translation written to test.hyp.txt: same search.
        alignment = attention_alignment(
            best, source, args.beam_size, length_penalty=args.length_penalty
        )
        plot_attention(*alignment, path=path, title=source)
        print(f"wrote {path}")
    write_json(run.out, "results.json", results)
    finish(run)  # the backup is kept until now: a failure while scoring resumes, not retrains
    print(f"wrote {best_path} and {os.path.join(run.out, 'results.json')}")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)

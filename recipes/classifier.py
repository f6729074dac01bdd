"""Train a BiLSTM spam filter on the bundled SpamAssassin corpus and report accuracy and F1.

    python recipes/classifier.py --quick --out runs/classifier_quick   # minutes on 2 CPU cores
    python recipes/classifier.py --out runs/classifier                 # the full config
    python recipes/classifier.py --quick --task brown_genres           # 15 Brown genres
    python recipes/classifier.py --quick --train-csv train.csv --dev-csv dev.csv \
        --test-csv test.csv --text-column review --label-column stars   # your own CSV files

`keras_seq.SequenceClassifier` reads the first ``max_length`` words of each mail (subject
and body; `classify` cuts the same way at serving time), is trained with plain `model.fit`,
the epoch with the best dev F1 is kept, and the test split is scored: accuracy and per-class
precision / recall / F1. With --train-csv, --dev-csv and --test-csv the three splits are your
own CSV files instead (`keras_seq.datasets.read_classification_csv`: texts in --text-column,
labels in --label-column; malformed rows are skipped and counted), and the classes are every
label found in the three files. The output directory receives:

    model.keras         the best model, tokenizer included (reload with keras.saving.load_model)
    vocabulary.txt      the word vocabulary, one word per line
    history.json        per-epoch loss / accuracy / macro F1 (train and dev)
    results.json        the configuration, data sizes, timings and test scores
    backup/             BackupAndRestore state: rerun the same command to resume a killed run
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
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
from keras_seq.datasets import (  # noqa: E402
    SPAM_ASSASSIN_LABELS,
    load_brown_genres,
    load_spam_assassin,
    read_classification_csv,
)
from keras_seq.metrics.class_f1_score import ClassF1Score  # noqa: E402
from keras_seq.models.sequence_classifier import (  # noqa: E402
    POOLING_MODES,
    SequenceClassifier,
)
from keras_seq.text import WordTokenizer  # noqa: E402

CONFIGS = {
    # Good for debugging on a laptop: a few minutes on 2 CPU cores.
    "quick": dict(
        max_length=128,
        max_vocabulary_size=10000,
        embedding_dim=64,
        units=64,
        num_layers=1,
        pooling="mean",
        hidden_units=[64],
        dropout=0.2,
        epochs=3,
        batch_size=32,
        learning_rate=3e-3,
    ),
    "full": dict(
        max_length=400,
        max_vocabulary_size=30000,
        embedding_dim=128,
        units=128,
        num_layers=1,
        pooling="max",
        hidden_units=[128],
        dropout=0.3,
        epochs=10,
        batch_size=32,
        learning_rate=1e-3,
    ),
}


def _int32_length(max_length):
    """What is wrong with ``max_length`` for `SequenceClassifier` (None when fine): it is a
    length of the model's int32 graphs."""
    if max_length > 2**31 - 1:
        return "must be <= 2**31 - 1 (a length of the model's int32 graphs)"
    return None


# Checked before anything is read or written: a max_length above 2**31 - 1 failed in
# `SequenceClassifier` with a traceback, once the data was loaded and vocabulary.txt and
# --out/backup written.
LIMITS = {"pooling": POOLING_MODES, "max_length": _int32_length}


def pipeline(examples, tokenizer, max_length, batch_size, shuffle, seed):
    """``(token_ids [B, <= max_length], label [B])`` batches: each text cut to its first
    ``max_length`` ids, as `SequenceClassifier.classify` cuts it (the generic
    `classification_dataset` drops long texts instead)."""
    dataset = tf.data.Dataset.from_tensor_slices(
        ([text for text, _ in examples], [label for _, label in examples])
    )
    if shuffle:
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)

    def tokenize(texts, labels):
        return tokenizer.tokenize(texts)[:, :max_length].to_tensor(0), labels

    return dataset.batch(batch_size).map(tokenize).prefetch(tf.data.AUTOTUNE)


def split_report(class_names, gold, predicted):
    """`ClassF1Score.report` of the test split (``gold`` class ids, ``predicted`` class
    names), its ``macro_f1`` the mean F1 of the classes the split holds or the model
    predicts, as scikit-learn's ``f1_score(average="macro")`` takes them. A class of your
    training or dev file that the test file lacks and the model never predicts has no F1:
    counted as 0, it lowered the macro F1 of a perfect classifier (to 2/3 with one of three
    classes missing). Such classes are listed in ``macro_f1_leaves_out``, absent when every
    class counts (as in the bundled tasks' whole test splits)."""
    metric = ClassF1Score(len(class_names), class_names=class_names)
    metric.update_state(gold, [class_names.index(label) for label in predicted])
    report = metric.report()
    seen = {class_names[i] for i in gold} | set(predicted)
    if len(seen) < len(class_names):
        counted = [name for name in class_names if name in seen]
        report["macro_f1"] = sum(report["per_class"][name]["f1"] for name in counted) / max(
            len(counted), 1
        )
        report["macro_f1_leaves_out"] = [name for name in class_names if name not in seen]
    return report


def load_task(task, split):
    """``(examples [(text, label id)], class names)`` of the SpamAssassin or Brown-genre task."""
    if task == "spam":
        return load_spam_assassin(split), list(SPAM_ASSASSIN_LABELS)
    examples = load_brown_genres(split)
    # Every genre is in every split (the split is stratified by genre), so this is stable.
    genres = sorted({genre for _, genre in load_brown_genres("train")})
    return [(text, genres.index(genre)) for text, genre in examples], genres


def csv_column(text):
    """An argparse ``type``: a CSV column, by header name, or by 0-based index when ``text``
    is an integer (both columns given by index: the files have no header row)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a column name or index, got ''")
    return int(text) if text.lstrip("-").isdigit() else text


def load_splits(args):
    """``({split: [(text, label id), ...]}, class names)`` of --train-csv, --dev-csv and
    --test-csv, whose classes are every label found in them (sorted), or of the bundled
    ``--task``. Exits with a usage message for --task, --text-column or --label-column with
    the wrong data, and names the flag and the file when one cannot be read or holds no
    labelled text."""
    paths = own_data_paths(args, "csv", "CSV file")
    if not paths:
        refuse_without_own_data(args, ("text_column", "label_column"), "csv", "CSV")
        # Recorded in the run's settings as before --task had no default: a killed run of an
        # older keras_seq still resumes.
        args.task = args.task or "spam"
        loaded = {split: load_task(args.task, split) for split in ("train", "dev", "test")}
        return {split: examples for split, (examples, _) in loaded.items()}, loaded["train"][1]
    if args.task:
        raise SystemExit(
            f"--task {args.task} is a bundled corpus; your own --train-csv, --dev-csv and "
            "--test-csv replace it: give one or the other"
        )
    text_column = "text" if args.text_column is None else args.text_column
    label_column = "label" if args.label_column is None else args.label_column
    splits = read_own_data(
        paths,
        "csv",
        lambda path: read_classification_csv(path, text_column, label_column, strict=False),
        "labelled text",
    )
    class_names = labels_of_splits(splits, lambda example: example[1:], "labels")
    if len(class_names) < 2:
        raise SystemExit(
            f"your CSV files hold one label ({class_names[0]!r}): a classifier needs two or more"
        )
    ids = {name: index for index, name in enumerate(class_names)}
    return {
        split: [(text, ids[label]) for text, label in examples]
        for split, examples in splits.items()
    }, class_names


def make_parser():
    """The recipe's argument parser: `recipe_parser`'s flags and its own."""
    parser = recipe_parser(__doc__.split("\n")[0], "runs/classifier")
    parser.add_argument(
        "--max-train-examples", type=bounded_number(int, 1), help="use only this many mails"
    )
    parser.add_argument(
        "--max-eval-examples", type=bounded_number(int, 1), help="cap dev and test mails"
    )
    parser.add_argument(
        "--task",
        choices=("spam", "brown_genres"),
        help="SpamAssassin ham/spam (the default), or the 15 Brown genres of single sentences",
    )
    add_own_data_arguments(
        parser,
        "csv",
        "your own CSV training file instead of a bundled --task (with --dev-csv and "
        "--test-csv): one labelled text a row, RFC 4180 quoting; plain, gzip, bzip2 or xz",
    )
    parser.add_argument(
        "--text-column",
        type=csv_column,
        help="header name of the texts in your CSV files (default: text), or their 0-based "
        "index (both columns by index: files without a header row)",
    )
    parser.add_argument(
        "--label-column",
        type=csv_column,
        help="header name (default: label) or 0-based index of the labels",
    )
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    splits, class_names = load_splits(args)
    config, run = prepare(args, CONFIGS, limits=LIMITS)

    # The splits are sorted by label: `shuffle` happens in the pipeline, the caps below keep
    # both classes by taking every k-th mail.
    def cap(examples, count):
        """``count`` examples spread evenly over the split (which is sorted by label), so each
        label keeps its share."""
        if not count or count >= len(examples):
            return examples
        return [examples[i * len(examples) // count] for i in range(count)]

    train = cap(splits["train"], args.max_train_examples)
    dev = cap(splits["dev"], args.max_eval_examples)
    test = cap(splits["test"], args.max_eval_examples)
    source = "your CSV files" if args.train_csv else args.task
    print(f"{source}: train {len(train)}, dev {len(dev)}, test {len(test)}; {class_names}")
    tokenizer = WordTokenizer.from_corpus(
        [text for text, _ in train],
        min_count=2,
        max_vocabulary_size=config["max_vocabulary_size"],
        lowercase=True,
    )
    tokenizer.save_assets(run.out)
    print(f"vocabulary: {tokenizer.vocabulary_size} words")

    def batches(examples, shuffle):
        return pipeline(
            examples, tokenizer, config["max_length"], config["batch_size"], shuffle, args.seed
        )

    dataset = batches(train, shuffle=True)
    dataset, steps_per_epoch = train_stream(run, dataset, args.steps_per_epoch)

    with run.strategy.scope():  # variables mirrored over the replicas
        model = SequenceClassifier(
            class_names,
            embedding_dim=config["embedding_dim"],
            units=config["units"],
            num_layers=config["num_layers"],
            pooling=config["pooling"],
            hidden_units=config["hidden_units"],
            dropout=config["dropout"],
            max_length=config["max_length"],
            tokenizer=tokenizer,
        )
        model.build()  # BackupAndRestore needs the weights before `fit`
        model.compile(
            keras.optimizers.Adam(config["learning_rate"], clipnorm=5.0),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy", ClassF1Score(len(class_names), class_names=class_names)],
        )
        build_for_fit(run, model, dataset)
    callbacks, best_path = training_callbacks(run, monitor="val_class_f1", mode="max")
    history = model.fit(
        dataset,
        validation_data=batches(dev, shuffle=False),
        epochs=fit_epochs(run, config["epochs"]),
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles
        verbose=2,
    )
    write_history(run.out, history, run.history)

    best = keras.saving.load_model(best_path)
    labels, _ = best.classify([text for text, _ in test])
    report = split_report(class_names, [label for _, label in test], labels)
    print(f"test accuracy {report['accuracy']:.4f}, macro F1 {report['macro_f1']:.4f}")
    if "macro_f1_leaves_out" in report:
        print(
            "  (macro F1 of the classes in the test split or predicted; not: "
            f"{' '.join(report['macro_f1_leaves_out'])})"
        )
    for name, scores in report["per_class"].items():
        print(
            f"  {name:5} precision {scores['precision']:.4f} recall {scores['recall']:.4f} "
            f"F1 {scores['f1']:.4f} ({scores['support']:.0f} mails)"
        )
    examples = (
        [text for text, _ in test[:2]]
        if args.train_csv
        else ["Buy cheap pills now!!! Limited offer", "Can we move the meeting to Monday?"]
    )
    for text, label in zip(examples, best.classify(examples)[0], strict=True):
        print(f"  {label:5} {' '.join(text.split())[:100]}")
    results = {
        "config": config,
        "train_mails": len(train),
        # train_seconds, resumed, train_seconds_per_process: the whole run's (TrainingClock)
        **run.clock.report(),
        "test_mails": len(test),
        "test": report,
    }
    write_json(run.out, "results.json", results)
    finish(run)  # the backup is kept until now: a failure while scoring resumes, not retrains
    print(f"wrote {best_path} and {os.path.join(run.out, 'results.json')}")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)

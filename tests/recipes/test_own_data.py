"""The tagger, classifier and language-model recipes train on the user's own files
(--train-conll / --train-csv / --train-text with their dev and test twins) instead of the
bundled corpora: the files are read with keras_seq's readers, the label sets come from them,
and wrong combinations of flags are refused before any training."""

import csv
import gzip
import json
import os
import re
import subprocess
import sys

import keras
import pytest

from keras_seq.datasets import load_brown_genres, load_brown_pos, load_moby_dick
from tests.recipes.recipe_modules import ROOT, load_recipe

TINY = ["--quick", "--epochs", "1", "--steps-per-epoch", "2"]
SPLITS = ("train", "dev", "test")


def refuse_to_start(*args, **kwargs):
    raise AssertionError("the recipe started training with wrong data flags")


def as_lists(sentences):
    return [(list(words), list(tags)) for words, tags in sentences]


def write_conllu(path, sentences, opener=open):
    """``sentences`` as a 10-column CoNLL-U file (FORM in column 1, UPOS in column 3), with
    a comment line before each sentence."""
    with opener(path, "wt", encoding="utf-8") as f:
        for number, (words, tags) in enumerate(sentences):
            f.write(f"# sent_id = {number}\n")
            for index, (word, tag) in enumerate(zip(words, tags, strict=True)):
                f.write(f"{index + 1}\t{word}\t_\t{tag}\t_\t_\t0\t_\t_\t_\n")
            f.write("\n")


def write_csv(path, rows):
    """``rows`` of (text, label) under a header ``id,review,stars`` (csv quoting: the texts
    hold commas)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review", "stars"])
        for index, (text, label) in enumerate(rows):
            writer.writerow([index, text, label])


def flags(suffix, paths):
    return [item for split in SPLITS for item in (f"--{split}-{suffix}", str(paths[split]))]


def run_recipe(name, out, *argv):
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", f"{name}.py"), "--out", str(out), *argv],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with open(out / "results.json", encoding="utf-8") as f:
        return run.stdout, json.load(f)


@pytest.fixture(scope="module")
def conll(tmp_path_factory):
    """``(paths, sentences)``: Brown sentences as CoNLL-U files; the test file is gzipped and
    holds a tag, X (foreign words), that the training file lacks."""
    directory = tmp_path_factory.mktemp("conll")
    sentences = {
        "train": [(w, t) for w, t in load_brown_pos("train")[:200] if "X" not in t][:120],
        "dev": load_brown_pos("dev")[:20],
        "test": [(["Voilà", "le", "chat", "."], ["X", "X", "X", "."])]
        + load_brown_pos("test")[:20],
    }
    paths = {}
    for split in SPLITS:
        gzipped = split == "test"
        paths[split] = directory / f"{split}.conllu{'.gz' if gzipped else ''}"
        write_conllu(paths[split], sentences[split], gzip.open if gzipped else open)
    return paths, sentences


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    """``(paths, rows)``: Brown sentences labelled by genre (three genres) as CSV files with a
    header; the dev file lacks one of the labels, the test file holds all three."""
    directory = tmp_path_factory.mktemp("csv")
    by_genre = {}
    for text, genre in load_brown_genres("train"):
        if genre in ("news", "romance", "humor") and len(by_genre.setdefault(genre, [])) < 40:
            by_genre[genre].append((text, genre))
    mixed = [row for rows in zip(*by_genre.values(), strict=True) for row in rows]
    rows = {
        "train": mixed[:90],
        "dev": [row for row in mixed[90:] if row[1] != "humor"],
        "test": mixed[90:],
    }
    paths = {split: directory / f"{split}.csv" for split in SPLITS}
    for split in SPLITS:
        write_csv(paths[split], rows[split])
    return paths, rows


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """``(paths, paragraphs)``: Moby Dick paragraphs, one a line."""
    directory = tmp_path_factory.mktemp("text")
    book = load_moby_dick("train")
    paragraphs = {"train": book[10:120], "dev": book[120:140], "test": book[140:160]}
    paths = {split: directory / f"{split}.txt" for split in SPLITS}
    for split in SPLITS:
        paths[split].write_text("\n\n".join(paragraphs[split]) + "\n", encoding="utf-8")
    return paths, paragraphs


def test_tagger_reads_conllu_files_and_takes_every_tag_found_in_them(conll, capsys):
    paths, sentences = conll
    tagger = load_recipe("tagger", prefix="own_data")
    args = tagger.make_parser().parse_args(
        [*flags("conll", paths), "--word-column", "1", "--tag-column", "3"]
    )
    splits, tags = tagger.load_sentences(args)
    assert {split: as_lists(examples) for split, examples in splits.items()} == {
        split: as_lists(examples) for split, examples in sentences.items()
    }
    assert tags == sorted({t for v in sentences.values() for _, tags in v for t in tags})
    assert "X" in tags
    assert "tags of dev / test not in the training file: X" in capsys.readouterr().out
    # Without the flags: Brown and its fixed tag set, as before.
    splits, tags = tagger.load_sentences(tagger.make_parser().parse_args([]))
    assert tags == sorted(tagger.UNIVERSAL_TAGS)
    assert splits["dev"][:3] == load_brown_pos("dev")[:3]


def test_classifier_reads_csv_files_by_header_name_and_maps_labels_to_ids(reviews, capsys):
    paths, rows = reviews
    classifier = load_recipe("classifier", prefix="own_data")
    args = classifier.make_parser().parse_args(
        [*flags("csv", paths), "--text-column", "review", "--label-column", "stars"]
    )
    splits, class_names = classifier.load_splits(args)
    assert class_names == ["humor", "news", "romance"]
    for split in SPLITS:
        assert splits[split] == [(text, class_names.index(label)) for text, label in rows[split]]
    assert args.task is None  # no bundled task with your own files
    assert "labels of dev / test not in the training file" not in capsys.readouterr().out
    # Without the flags: the bundled SpamAssassin task, as before.
    args = classifier.make_parser().parse_args([])
    splits, class_names = classifier.load_splits(args)
    assert args.task == "spam" and class_names == ["ham", "spam"]


def test_language_model_reads_text_files_and_prompts_from_the_test_file(texts):
    paths, paragraphs = texts
    language_model = load_recipe("language_model", prefix="own_data")
    args = language_model.make_parser().parse_args(flags("text", paths))
    loaded = language_model.load_paragraphs(args)
    assert loaded == paragraphs
    test = language_model.sentences(loaded["test"])
    prompts = language_model.prompts_of(test, own_data=True)
    assert prompts == [" ".join(test[0].split()[:2]), " ".join(test[1].split()[:2]), ""]
    assert language_model.prompts_of(test, own_data=False) == language_model.PROMPTS


@pytest.mark.parametrize(
    "recipe, argv, message",
    [
        ("tagger", ["--train-conll", "{train}"], "missing: --dev-conll, --test-conll"),
        ("tagger", ["--word-column", "1"], "--word-column read your own CoNLL files"),
        (
            "tagger",
            ["--tag-column", "3", "--word-column", "1"],
            "--word-column and --tag-column read your own CoNLL files",
        ),
        ("classifier", ["--test-csv", "{train}"], "missing: --train-csv, --dev-csv"),
        ("classifier", ["--label-column", "stars"], "--label-column read your own CSV files"),
        (
            "classifier",
            ["--task", "spam", "--train-csv", "{train}", "--dev-csv", "{train}"]
            + ["--test-csv", "{train}"],
            "--task spam is a bundled corpus",
        ),
        ("language_model", ["--dev-text", "{train}"], "missing: --train-text, --test-text"),
        (
            "language_model",
            ["--train-text", "{dir}", "--dev-text", "{train}", "--test-text", "{train}"],
            "--train-text {dir} is a directory; give the text file",
        ),
        (
            "language_model",
            ["--train-text", "{train}", "--dev-text", "{nope}", "--test-text", "{train}"],
            "--dev-text {nope}: no such file",
        ),
    ],
)
def test_wrong_data_flags_exit_before_training(tmp_path, recipe, argv, message):
    train = tmp_path / "train.txt"
    train.write_text("a b\n", encoding="utf-8")
    names = {"train": train, "dir": tmp_path, "nope": tmp_path / "nope.txt"}
    module = load_recipe(recipe, prefix="own_data")
    module.prepare = refuse_to_start
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--out", str(tmp_path / "out"), *(a.format(**names) for a in argv)])
    assert message.format(**names) in str(exit_info.value.code)
    assert not (tmp_path / "out").exists()


def test_unreadable_or_useless_own_files_are_named_with_their_flag(tmp_path, conll, reviews):
    tagger = load_recipe("tagger", prefix="own_data")
    paths, _ = conll
    # A column out of range is an error whatever `strict`: named with the flag and the file.
    args = tagger.make_parser().parse_args([*flags("conll", paths), "--tag-column", "12"])
    with pytest.raises(SystemExit, match=r"^--train-conll .*train\.conllu.*column"):
        tagger.load_sentences(args)
    # A file holding only malformed sentences: nothing to train on.
    bad = tmp_path / "bad.conll"
    bad.write_text("1\tword\t_\tNOUN\n2\tword\n\n", encoding="utf-8")  # line 2: 2 columns
    args = tagger.make_parser().parse_args(
        ["--train-conll", str(paths["train"]), "--dev-conll", str(bad)]
        + ["--test-conll", str(paths["test"]), "--word-column", "1", "--tag-column", "3"]
    )
    with pytest.raises(SystemExit, match=r"^--dev-conll .*: no tagged sentence in the file$"):
        tagger.load_sentences(args)
    # One label in all three files: no classifier to train.
    classifier = load_recipe("classifier", prefix="own_data")
    one = tmp_path / "one.csv"
    write_csv(one, [("good", "5"), ("fine", "5")])
    args = classifier.make_parser().parse_args(
        ["--train-csv", str(one), "--dev-csv", str(one), "--test-csv", str(one)]
        + ["--text-column", "review", "--label-column", "stars"]
    )
    with pytest.raises(SystemExit, match=r"one label \('5'\): a classifier needs two or more"):
        classifier.load_splits(args)
    # A column name that is not in the header.
    review_paths, _ = reviews
    args = classifier.make_parser().parse_args(flags("csv", review_paths))  # text, label
    with pytest.raises(SystemExit, match=r"^--train-csv .*train\.csv.*'text'"):
        classifier.load_splits(args)


@pytest.mark.slow
def test_tagger_trains_and_scores_on_own_conllu_files(tmp_path, conll):
    paths, sentences = conll
    out = tmp_path / "run"
    stdout, results = run_recipe(
        "tagger", out, *TINY, *flags("conll", paths), "--word-column", "1", "--tag-column", "3"
    )
    tags = sorted({t for v in sentences.values() for _, tags in v for t in tags})
    assert sorted(results["test_accuracy_per_tag"]) == tags
    assert results["train_sentences"] == len(sentences["train"])
    assert results["test_tokens"] == sum(len(words) for words, _ in sentences["test"])
    assert results["test_accuracy_per_tag"]["X"]["tokens"] == 3
    model = keras.saving.load_model(out / "model.keras")
    assert model.tag_vocabulary == tags
    assert "voilà/" in stdout  # the first test sentence, tagged (the tokenizer lowercases)


@pytest.mark.slow
def test_classifier_trains_and_scores_on_own_csv_files(tmp_path, reviews):
    paths, rows = reviews
    out = tmp_path / "run"
    _, results = run_recipe(
        "classifier",
        out,
        *TINY,
        *flags("csv", paths),
        "--text-column",
        "review",
        "--label-column",
        "stars",
    )
    assert results["train_mails"] == len(rows["train"])
    assert results["test_mails"] == len(rows["test"])
    assert sorted(results["test"]["per_class"]) == ["humor", "news", "romance"]
    supports = {name: s["support"] for name, s in results["test"]["per_class"].items()}
    assert supports == {"humor": 10, "news": 10, "romance": 10}
    model = keras.saving.load_model(out / "model.keras")
    assert list(model.class_names) == ["humor", "news", "romance"]


@pytest.mark.slow
def test_language_model_trains_and_samples_on_own_text_files(tmp_path, texts):
    paths, paragraphs = texts
    out = tmp_path / "run"
    _, results = run_recipe("language_model", out, *TINY, *flags("text", paths))
    language_model = load_recipe("language_model", prefix="own_data")
    test = language_model.sentences(paragraphs["test"])
    assert results["train_sentences"] == len(language_model.sentences(paragraphs["train"]))
    model = keras.saving.load_model(out / "model.keras")
    prompt = " ".join(test[0].split()[:2])
    assert len(results["samples"]["greedy"]) == 3
    assert results["samples"]["greedy"][0] == model.generate([prompt], max_length=40)[0]


def test_language_model_cuts_chinese_and_japanese_sentences():
    language_model = load_recipe("language_model", prefix="own_data")
    assert language_model.sentences(
        ["我们走吧。他说：“好！”你呢？ 结束", "「行く。」と言った。"]
    ) == [
        "我们走吧。",
        "他说：“好！”",
        "你呢？",
        "结束",
        "「行く。」",
        "と言った。",
    ]
    # Moby Dick is cut as before: after ., ! or ? and a space only.
    book = load_moby_dick("train")
    assert language_model.sentences(book) == [
        s for p in book for s in re.split(r"(?<=[.!?])\s+", p) if s.strip()
    ]

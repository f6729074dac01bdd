"""Recipe probe round 11, your own data files: a killed run is not resumed once one of its
files was rewritten under the same name (its tokenizer and classes were learned anew under the
old weights: a traceback when their sizes changed, a silent mix otherwise); the classifier's
test macro F1 leaves out the classes the test file lacks and the model never predicts (they
counted as 0: a perfect classifier scored 2/3); a pipe given for a file is named as one, not
as a missing file."""

import json
import os
import sys

import pytest

from tests.recipes.recipe_modules import load_recipe

ROWS = {
    "train": [("good fine day", "pos"), ("bad awful day", "neg"), ("so so day", "meh")] * 4,
    "dev": [("good day", "pos"), ("bad day", "neg"), ("so so", "meh")] * 2,
    "test": [("good fine", "pos"), ("awful bad", "neg")] * 3,  # no "meh"
}


def write_csvs(directory, rows=ROWS):
    paths = {}
    for split, examples in rows.items():
        paths[split] = directory / f"{split}.csv"
        paths[split].write_text(
            "text,label\n" + "".join(f"{text},{label}\n" for text, label in examples),
            encoding="utf-8",
        )
    return paths


def csv_flags(paths):
    return [f"--{split}-csv={path}" for split, path in paths.items()]


def test_a_backup_is_not_resumed_once_an_own_file_is_rewritten(tmp_path):
    classifier = load_recipe("classifier", "recipes_round11")
    common = load_recipe("_common", "recipes_round11")
    paths = write_csvs(tmp_path)
    argv = ["--quick", "--out", str(tmp_path / "out"), *csv_flags(paths)]
    common.prepare(classifier.make_parser().parse_args(argv), classifier.CONFIGS)
    # What a run killed after its first epoch leaves (AtomicBackupAndRestore's commit).
    state = {"epoch": 1, "weights": "epoch-1.weights.h5", "history": [{"loss": 1.0}]}
    backup = tmp_path / "out" / "backup"
    (backup / "training_state.json").write_text(json.dumps(state))

    # The same files: the same command resumes.
    _, run = common.prepare(classifier.make_parser().parse_args(argv), classifier.CONFIGS)
    assert run.initial_epoch == 1
    # The training file rewritten under its name (a third label): refused, naming it.
    paths["train"].write_text("text,label\nanother text,pos\nmore text,neg\nyet more,new\n")
    with pytest.raises(SystemExit) as exit_info:
        common.prepare(classifier.make_parser().parse_args(argv), classifier.CONFIGS)
    assert str(exit_info.value).startswith(
        f"{backup} holds the backup of a killed run with other settings (the contents of "
        f"--train-csv {paths['train']} changed): "
    )


def test_bundled_runs_record_no_file_contents(tmp_path):
    # Their settings files stay as before (a backup of an older keras_seq still resumes).
    tagger = load_recipe("tagger", "recipes_round11")
    common = load_recipe("_common", "recipes_round11")
    args = tagger.make_parser().parse_args(["--quick", "--out", str(tmp_path)])
    common.prepare(args, tagger.CONFIGS)
    settings = json.loads((tmp_path / "backup" / "settings.json").read_text())
    assert sorted(settings) == ["arguments", "config"]


def test_classifier_macro_f1_leaves_out_classes_absent_from_the_test_split():
    classifier = load_recipe("classifier", "recipes_round11")
    report = classifier.split_report(["meh", "neg", "pos"], [2, 1, 2, 1], ["pos", "neg"] * 2)
    assert report["accuracy"] == 1.0
    assert report["macro_f1"] == 1.0  # was 2/3: "meh" (no test text, never predicted) as 0
    assert report["macro_f1_leaves_out"] == ["meh"]
    # A class predicted but absent from the split still counts (its F1 is 0).
    report = classifier.split_report(
        ["meh", "neg", "pos"], [2, 1, 2, 1], ["pos", "neg", "pos", "meh"]
    )
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert "macro_f1_leaves_out" not in report
    # Every class in the split: ClassF1Score's own figure, unchanged.
    report = classifier.split_report(["neg", "pos"], [1, 0, 1], ["pos", "neg", "neg"])
    assert report["macro_f1"] == pytest.approx(2 / 3)  # neg and pos: 2/3 each
    assert "macro_f1_leaves_out" not in report


@pytest.mark.slow
def test_classifier_reports_macro_f1_of_the_test_classes(tmp_path, monkeypatch, capsys):
    classifier = load_recipe("classifier", "recipes_round11")
    paths = write_csvs(tmp_path)
    gold = dict(ROWS["test"])

    class Perfect:  # the best model, as a perfect classifier
        def classify(self, texts):
            return [gold.get(text, "pos") for text in texts], None

    monkeypatch.setattr(classifier.keras.saving, "load_model", lambda path: Perfect())
    argv = ["--quick", "--out", str(tmp_path / "out"), "--epochs", "1", "--steps-per-epoch", "1"]
    argv += ["--set", "units=4", "--set", "embedding_dim=4", "--set", "hidden_units=4"]
    results = classifier.main([*argv, *csv_flags(paths)])
    assert results["test"]["accuracy"] == 1.0
    assert results["test"]["macro_f1"] == 1.0  # was 0.6667
    assert results["test"]["macro_f1_leaves_out"] == ["meh"]
    on_disk = json.loads((tmp_path / "out" / "results.json").read_text())
    assert on_disk["test"]["macro_f1"] == 1.0
    assert "macro F1 1.0000" in capsys.readouterr().out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
@pytest.mark.skipif(sys.platform == "win32", reason="no named pipes")
def test_a_pipe_for_an_own_file_is_named_as_one(tmp_path):
    language_model = load_recipe("language_model", "recipes_round11")
    text = tmp_path / "text.txt"
    text.write_text("The cat sat.\n")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)  # what `--train-text <(zcat train.txt.gz)` gives
    args = language_model.make_parser().parse_args(
        ["--train-text", str(pipe), "--dev-text", str(text), "--test-text", str(text)]
    )
    with pytest.raises(SystemExit) as exit_info:
        language_model.load_paragraphs(args)
    assert str(exit_info.value) == (
        f"--train-text {pipe} is not a regular file (a pipe or a device); give the text file "
        "itself (compressed files are read as they are)"
    )

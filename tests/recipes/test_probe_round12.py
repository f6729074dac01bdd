"""Recipe probe round 12: a killed run on your own files resumes when the same files are
named by another path (``train.csv`` then ``$PWD/train.csv``, or files moved since the kill):
their contents, recorded as SHA-256, decide, not the spelling of the path."""

import json
import shutil

import pytest

from tests.recipes.recipe_modules import load_recipe
from tests.recipes.test_probe_round11 import write_csvs

STATE = {"epoch": 1, "weights": "epoch-1.weights.h5", "history": [{"loss": 1.0}]}


def prepare_with(common, classifier, out, paths):
    argv = ["--quick", "--out", str(out)]
    argv += [f"--{split}-csv={path}" for split, path in paths.items()]
    return common.prepare(classifier.make_parser().parse_args(argv), classifier.CONFIGS)


def test_a_backup_resumes_with_the_same_files_under_another_path(tmp_path, monkeypatch):
    classifier = load_recipe("classifier", "recipes_round12")
    common = load_recipe("_common", "recipes_round12")
    write_csvs(tmp_path)
    monkeypatch.chdir(tmp_path)
    relative = {split: f"{split}.csv" for split in ("train", "dev", "test")}
    out = tmp_path / "out"
    prepare_with(common, classifier, out, relative)
    (out / "backup" / "training_state.json").write_text(json.dumps(STATE))

    # Before: "holds the backup of a killed run with other settings (--train-csv
    # 'train.csv' -> '/tmp/.../train.csv'; ...)", the same bytes named another way.
    absolute = {split: tmp_path / name for split, name in relative.items()}
    _, run = prepare_with(common, classifier, out, absolute)
    assert run.initial_epoch == 1
    # Moved to another directory with the same contents: the same data.
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in absolute.values():
        shutil.copy(path, moved / path.name)
    _, run = prepare_with(common, classifier, out, {s: moved / p.name for s, p in absolute.items()})
    assert run.initial_epoch == 1
    # Other contents under the new path: refused, naming the file.
    (moved / "dev.csv").write_text("text,label\nother,pos\nthings,neg\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"\(the contents of --dev-csv .*moved/dev\.csv changed\)"):
        prepare_with(common, classifier, out, {s: moved / p.name for s, p in absolute.items()})


@pytest.mark.parametrize(
    "recipe, changes",
    [
        ("translate", ["--beam-size", "2", "--length-penalty", "1.0", "--plot-attention", "0"]),
        ("language_model", ["--max-length", "12"]),
    ],
)
def test_a_backup_resumes_with_other_scoring_arguments(tmp_path, recipe, changes):
    # Before: "holds the backup of a killed run with other settings (--beam-size 4 -> 2)":
    # a run killed while scoring could not be rescored with another beam, though the
    # training it resumes does not read it.
    module = load_recipe(recipe, "recipes_round12")
    common = load_recipe("_common", "recipes_round12")
    out = tmp_path / "out"
    argv = ["--quick", "--out", str(out)]
    parse = module.make_parser().parse_args
    limits = {"vocabulary_size": 5}
    common.prepare(parse(argv), module.CONFIGS, limits)
    (out / "backup" / "training_state.json").write_text(json.dumps(STATE))
    scoring = tuple(
        name.removeprefix("--").replace("-", "_") for name in changes if name.startswith("--")
    )
    _, run = common.prepare(parse(argv + changes), module.CONFIGS, limits, scoring)
    assert run.initial_epoch == 1
    # A training argument still stops the rerun.
    with pytest.raises(SystemExit, match="other settings"):
        common.prepare(parse(argv + ["--seed", "3"]), module.CONFIGS, limits, scoring)


@pytest.mark.parametrize(
    "recipe, names",
    [
        ("translate", ("beam_size", "length_penalty", "plot_attention")),
        ("language_model", ("max_length",)),
    ],
)
def test_the_recipes_pass_their_scoring_arguments(tmp_path, recipe, names):
    # What each main gives prepare: the arguments only the scoring after training reads.
    module = load_recipe(recipe, "recipes_round12")
    given = {}

    def stop(args, configs, limits=None, scoring_arguments=()):
        given["scoring_arguments"] = scoring_arguments
        raise SystemExit("stopped before training")

    module.prepare = stop
    with pytest.raises(SystemExit, match="stopped before training"):
        module.main(["--quick", "--out", str(tmp_path / "out")])
    assert given["scoring_arguments"] == names

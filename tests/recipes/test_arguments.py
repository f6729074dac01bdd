"""The recipes refuse out-of-range arguments, incomplete data flags and a resume with other
settings with a message and a non-zero exit, before any training."""

import argparse
import json
import types

import pytest

from tests.recipes.recipe_modules import load_recipe


def refuse_to_start(*args, **kwargs):
    raise AssertionError("the recipe started training with an out-of-range argument")


@pytest.mark.parametrize(
    "recipe, argv, message",
    [
        ("tagger", ["--epochs", "0"], "argument --epochs: expected an int >= 1, got '0'"),
        ("tagger", ["--epochs", "-1"], "argument --epochs: expected an int >= 1, got '-1'"),
        ("tagger", ["--epochs", "two"], "argument --epochs: expected an int >= 1, got 'two'"),
        ("tagger", ["--steps-per-epoch", "0"], "argument --steps-per-epoch: expected an int >= 1"),
        ("tagger", ["--seed", "-1"], "argument --seed: expected an int in [0, 4294967295]"),
        ("tagger", ["--max-train-examples", "-5"], "argument --max-train-examples: expected"),
        ("tagger", ["--max-eval-examples", "0"], "argument --max-eval-examples: expected"),
        ("classifier", ["--max-train-examples", "0"], "argument --max-train-examples: expected"),
        ("language_model", ["--max-length", "0"], "argument --max-length: expected an int >= 1"),
        ("translate", ["--beam-size", "0"], "argument --beam-size: expected an int >= 1, got '0'"),
        ("translate", ["--max-train-pairs", "-3"], "argument --max-train-pairs: expected"),
        (
            "translate",
            ["--plot-attention", "-1"],
            "--plot-attention: expected an int >= 0",
        ),
        ("demo", ["--epochs", "0"], "argument --epochs: expected an int >= 1, got '0'"),
        ("demo", ["--max-train-pairs", "-1"], "argument --max-train-pairs: expected an int >= 1"),
    ],
)
def test_out_of_range_arguments_exit_with_a_usage_error(tmp_path, capsys, recipe, argv, message):
    module = load_recipe(recipe)
    if recipe == "demo":
        module.translate = types.SimpleNamespace(main=refuse_to_start)
    else:
        module.prepare = refuse_to_start
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--out", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2  # argparse's usage error
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was started


@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs=0", "epochs must be an int >= 1, got 0"),
        ("batch_size=-8", "batch_size must be an int >= 1, got -8"),
        # `none` is only for an entry that may be None: read as an int, it is refused.
        (
            "batch_size=none",
            r"--set 'batch_size=none': cannot read 'none' as the int that 'batch_size' holds "
            r"\(invalid literal for int\(\) with base 10: 'none'\)",
        ),
    ],
)
def test_set_epochs_and_batch_size_must_be_positive(tmp_path, override, message):
    common = load_recipe("_common")
    parser = common.recipe_parser("test", "unused")
    args = parser.parse_args(["--quick", "--out", str(tmp_path), "--set", override])
    configs = {"quick": {"epochs": 2, "batch_size": 8}, "full": {}}
    with pytest.raises(SystemExit, match=f"^{message}$"):
        common.prepare(args, configs)


def test_a_backup_is_resumed_only_with_the_same_settings(tmp_path, monkeypatch):
    common = load_recipe("_common")
    # `--deterministic` below would turn op determinism on for every later test of the
    # session (TensorFlow has no public switch back): recorded instead.
    determinism = []
    monkeypatch.setattr(
        common.tf.config.experimental, "enable_op_determinism", lambda: determinism.append(1)
    )
    parser = common.recipe_parser("test", "unused")
    parser.add_argument("--max-train-examples", type=int)
    configs = {"quick": {"epochs": 2, "dropout": 0.1}, "full": {}}
    out = ["--quick", "--out", str(tmp_path)]
    common.prepare(parser.parse_args([*out, "--max-train-examples", "300"]), configs)
    # What a run killed after its first epoch leaves (AtomicBackupAndRestore's commit).
    state = {"epoch": 1, "weights": "epoch-1.weights.h5", "history": [{"loss": 1.0}]}
    (tmp_path / "backup" / "training_state.json").write_text(json.dumps(state))

    changed = [*out, "--max-train-examples", "200", "--set", "dropout=0.5", "--seed", "3"]
    with pytest.raises(SystemExit) as exit_info:
        common.prepare(parser.parse_args(changed), configs)
    assert str(exit_info.value) == (
        f"{tmp_path / 'backup'} holds the backup of a killed run with other settings "
        "(dropout 0.1 -> 0.5; --max-train-examples 300 -> 200; --seed 1 -> 3): rerun the "
        "command that made it to resume that run, or delete "
        f"{tmp_path / 'backup'} to start a new one"
    )
    # The same command resumes; so does one that only asks for more epochs.
    same = [*out, "--max-train-examples", "300", "--epochs", "5", "--deterministic"]
    config, run = common.prepare(parser.parse_args(same), configs)
    assert (run.initial_epoch, run.history, config["epochs"]) == (1, [{"loss": 1.0}], 5)
    assert determinism == [1]


def test_translate_needs_all_three_tsv_files(tmp_path):
    translate = load_recipe("translate")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("Guten Morgen.\tGood morning.\n")
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n")

    def namespace(train=None, dev=None, test=None):
        return argparse.Namespace(train_tsv=train, dev_tsv=dev, test_tsv=test)

    assert translate.tsv_paths(namespace()) == {}
    with pytest.raises(SystemExit, match="go together .*; missing: --test-tsv$"):
        translate.tsv_paths(namespace(pairs, pairs))
    with pytest.raises(SystemExit, match="missing: --train-tsv, --test-tsv$"):
        translate.tsv_paths(namespace(dev=pairs))  # was silently ignored: Ding was used
    with pytest.raises(SystemExit, match=f"^--dev-tsv {tmp_path / 'nope.tsv'}: no such file$"):
        translate.tsv_paths(namespace(pairs, tmp_path / "nope.tsv", pairs))
    paths = translate.tsv_paths(namespace(pairs, pairs, empty))
    with pytest.raises(SystemExit, match="^--test-tsv .*empty.tsv: no source<TAB>target pair"):
        translate.load_pairs(paths)
    paths = translate.tsv_paths(namespace(pairs, pairs, pairs))
    assert translate.load_pairs(paths)["dev"] == [("Guten Morgen.", "Good morning.")]

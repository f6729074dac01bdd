"""User-journey probe round 8: an ``--out`` that cannot be created, a ``--train-tsv`` that is
a directory, ``keras-seq translate`` given a .keras file that is not a zip archive,
``keras-seq serve`` without (or with both) ``--model_base_path`` / ``--model_config_file``,
and benchmark flags accepted only to fail after minutes of work (``serving_load.py
--max-queued -1`` / ``--seed -1``, ``memory_breakdown.py --top 0``)."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_seq import cli
from tests.recipes.recipe_modules import ROOT
from tests.recipes.recipe_modules import load_recipe as _load


def load_recipe(name):
    return _load(name, "recipes_round8")


common = load_recipe("_common")
CONFIGS = {"quick": {"epochs": 1, "batch_size": 2}, "full": {"epochs": 1, "batch_size": 2}}


def _prepare(out):
    args = common.recipe_parser("test", "unused").parse_args(["--out", str(out), "--quick"])
    return common.prepare(args, CONFIGS)


# ----------------------------------------------------------------------------- recipes
def test_an_out_that_cannot_be_created_exits_with_a_message(tmp_path):
    # `os.makedirs` raised NotADirectoryError (a file in the path) or FileNotFoundError
    # (/proc/...) out of `prepare`: a traceback instead of a message naming --out.
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "run"
    with pytest.raises(SystemExit) as info:
        _prepare(out)
    message = str(info.value.code)
    assert message.startswith(f"--out {out}: cannot create the directory (")
    assert "\n" not in message


def test_an_out_that_can_be_created_still_is(tmp_path):
    config, run = _prepare(tmp_path / "new" / "run")
    assert run.chief and os.path.isdir(tmp_path / "new" / "run" / "backup")
    assert config["epochs"] == 1


def test_a_tsv_flag_naming_a_directory_says_so(tmp_path):
    # It said "no such file" of a directory that is there.
    translate = load_recipe("translate")
    (tmp_path / "pairs").mkdir()
    good = tmp_path / "dev.tsv"
    good.write_text("Hallo\tHello\n", encoding="utf-8")
    args = translate.recipe_parser("test", "unused")
    for flag in ("--train-tsv", "--dev-tsv", "--test-tsv"):
        args.add_argument(flag)
    parsed = args.parse_args(
        ["--train-tsv", str(tmp_path / "pairs"), "--dev-tsv", str(good), "--test-tsv", str(good)]
    )
    with pytest.raises(SystemExit) as info:
        translate.tsv_paths(parsed)
    assert info.value.code == (
        f"--train-tsv {tmp_path / 'pairs'} is a directory; give the source<TAB>target file"
    )


# --------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize(
    "content, what",
    [(b"", "the file is empty"), (b"not a model\n", "the file is not a zip archive")],
)
def test_translate_a_keras_file_that_is_not_a_zip_archive_is_named_as_such(tmp_path, content, what):
    # Keras answers "File not found: filepath=..." of a file that exists (empty, a text
    # file, a copy cut short), which the command passed on.
    model = tmp_path / "model.keras"
    model.write_bytes(content)
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", str(model)])
    message = str(info.value.code)
    assert message.startswith(f"translate: cannot load --model {model}: {what}")
    assert "not found" not in message.lower() and "\n" not in message


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "one of the arguments --model_base_path --model_config_file is required"),
        (
            ["--model_base_path", "base", "--model_config_file", "models.config"],
            "argument --model_config_file: not allowed with argument --model_base_path",
        ),
        (["--model_base_path", ""], "argument --model_base_path: expected a path, got ''"),
    ],
)
def test_serve_without_exactly_one_model_source_is_a_usage_error(capsys, argv, message):
    # It exited with status 1 (SystemExit of a string) after the parser had accepted the
    # arguments; a usage error is status 2 with the usage line.
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["serve", *argv])
    assert info.value.code == 2
    assert f"keras-seq serve: error: {message}" in capsys.readouterr().err


# -------------------------------------------------------------------------- benchmarks
def _serving_load():
    spec = importlib.util.spec_from_file_location(
        "serving_load_round8", os.path.join(ROOT, "benchmarks", "serving_load.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max-queued", "-1"], "argument --max-queued: must be >= 0, got -1"),
        (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["--seed", str(2**32)], f"argument --seed: must be <= {2**32 - 1}, got {2**32}"),
    ],
)
def test_serving_load_refuses_values_the_server_or_keras_would_refuse_later(capsys, argv, message):
    # --max-queued -1 exported the model, then the server refused it: a RuntimeError
    # traceback; --seed -1 a ValueError traceback from keras.utils.set_random_seed.
    with pytest.raises(SystemExit) as info:
        _serving_load().parse_args(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_serving_load_still_takes_zero_queued_and_the_largest_seed():
    args = _serving_load().parse_args(["--max-queued", "0", "--seed", str(2**32 - 1)])
    assert (args.max_queued, args.seed) == (0, 2**32 - 1)


def test_memory_breakdown_top_must_be_positive():
    # --top 0 or -1 profiled the step, then printed an empty table.
    process = subprocess.run(
        [sys.executable, "benchmarks/memory_breakdown.py", "SimpleRNN", "A", "keras_seq"]
        + ["--top", "0"],
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert process.returncode == 2, process.stderr[-2000:]
    assert "memory_breakdown.py: error: argument --top: expected an int >= 1" in process.stderr
    assert "Traceback" not in process.stderr


def test_language_model_exits_before_training_when_dev_or_test_keep_no_sentence(
    tmp_path, monkeypatch
):
    # Sentences longer than sequence_length are dropped; with none left in the dev split
    # the recipe trained, found no val_perplexity, and died on a KeyError when printing it.
    recipe = load_recipe("language_model")
    long_sentence = " ".join(["word"] * 200) + "."

    def load_moby_dick(split):
        return ["Call me Ishmael. The whale swims."] * 20 if split == "train" else [long_sentence]

    monkeypatch.setattr(recipe, "load_moby_dick", load_moby_dick)
    fitted = []
    monkeypatch.setattr(recipe.RNNLanguageModel, "fit", lambda *a, **k: fitted.append(1))
    argv = ["--quick", "--out", str(tmp_path), "--set", "vocabulary_size=300"]
    with pytest.raises(SystemExit) as info:
        recipe.main(argv)
    assert str(info.value.code).startswith(
        "the dev split holds no sentence that fits in sequence_length (96 word pieces)"
    )
    assert not fitted


def test_translate_a_model_keras_cannot_rebuild_is_reported_in_one_line(tmp_path):
    # Keras' message for a class it cannot locate runs over several lines and prints the
    # model's whole config (twice); the command passed it on as it was.
    import zipfile

    import keras

    saved = tmp_path / "saved.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(saved)
    model = tmp_path / "model.keras"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(model, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                layer = config["config"]["layers"][-1]
                layer.update(module=None, class_name="NoSuchLayer", registered_name="x>NoSuchLayer")
                data = json.dumps(config).encode()
            target.writestr(item, data)
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", str(model)])
    message = str(info.value.code)
    assert message.startswith(
        f"translate: cannot load --model {model}: Could not locate class 'NoSuchLayer'."
    )
    assert "\n" not in message and "config" not in message and len(message) < 600

    archive = tmp_path / "archive.keras"  # a zip archive, not one `model.save` wrote
    with zipfile.ZipFile(archive, "w") as target:
        target.writestr("notes.txt", "hello")
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", str(archive)])
    assert info.value.code == (
        f"translate: cannot load --model {archive}: the zip archive holds no config.json: it "
        "is not a file that `model.save` wrote"
    )


def test_ptb_lm_state_naming_a_file_is_a_usage_error(tmp_path, capsys):
    # The first save of the state, after a whole epoch of training, failed on it.
    spec = importlib.util.spec_from_file_location(
        "ptb_lm_round8", os.path.join(ROOT, "benchmarks", "ptb_lm.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    state = tmp_path / "state"
    state.write_text("")
    loaded = []
    module.load_ptb = lambda: loaded.append(1)
    with pytest.raises(SystemExit) as info:
        module.main(["--state", str(state)])
    assert info.value.code == 2 and not loaded
    assert f"error: --state {state} is a file, not a directory" in capsys.readouterr().err


def test_results_and_final_weights_are_never_left_half_written(tmp_path, monkeypatch):
    # write_json / write_weights streamed into the final name: a Ctrl-C or a kill during the
    # write left a truncated results.json (or --final-weights .npz) that looked finished.
    common.write_json(tmp_path, "results.json", {"bleu": 1.0})

    def interrupted_dump(data, f, **kwargs):
        f.write('{"bleu": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(common.json, "dump", interrupted_dump)
    with pytest.raises(KeyboardInterrupt):
        common.write_json(tmp_path, "results.json", {"bleu": 2.0})
    with pytest.raises(KeyboardInterrupt):
        common.write_json(tmp_path, "history.json", {"loss": [1.0]})
    assert json.loads((tmp_path / "results.json").read_text()) == {"bleu": 1.0}
    assert sorted(os.listdir(tmp_path)) == ["results.json"]  # no partial file either
    monkeypatch.undo()

    class Weight:
        def __init__(self, value):
            self.value = value

        def numpy(self):
            return self.value

    class Model:
        weights = [Weight(np.ones((2, 3), "float32")), Weight(np.zeros(4, "float32"))]

    path = tmp_path / "out" / "final.npz"

    def interrupted_savez(f, **arrays):
        f.write(b"PK\x03\x04 truncated")
        raise KeyboardInterrupt

    monkeypatch.setattr(common.np, "savez", interrupted_savez)
    with pytest.raises(KeyboardInterrupt):
        common.write_weights(path, Model)
    assert os.listdir(tmp_path / "out") == []
    monkeypatch.undo()
    common.write_weights(path, Model)
    with np.load(path) as arrays:
        assert arrays["w0"].shape == (2, 3) and arrays["w1"].shape == (4,)

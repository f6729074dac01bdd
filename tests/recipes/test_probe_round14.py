"""Recipes audit, round 14: the early stopping of a resumed run is that of the run trained in
one go (its patience went on from the epochs before the kill, not from zero); the translator's
test.hyp.txt is written atomically."""

import importlib.util
import json
import os
import re
import types

import keras
import numpy as np
import pytest

from tests.recipes.recipe_modules import load_recipe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    "recipes_common_round14", os.path.join(ROOT, "recipes", "_common.py")
)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

# A dev metric (maximised) whose best is epoch 2 (0-based 1): with patience 3, a run trained in
# one go stops at the end of epoch 5 (0-based 4), before the better epoch 6 it would reach.
VALUES = [0.5, 0.6, 0.55, 0.58, 0.59, 0.7, 0.71, 0.72]
STOP = 4


def make_run(tmp_path, history):
    return common.Run(
        strategy=None,
        chief=True,
        out=str(tmp_path),
        backup_dir=str(tmp_path / "backup"),
        initial_epoch=len(history),
        history=history,
        final_weights=None,
    )


def early_stopping_of(callbacks):
    (stopping,) = [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
    return stopping


def epoch_it_stops(stopping, first_epoch):
    """Drives ``stopping`` through a `fit` from ``first_epoch`` over VALUES; the epoch after
    which it stops training, or None."""
    model = types.SimpleNamespace(stop_training=False)
    stopping.set_model(model)
    stopping.on_train_begin()
    for epoch in range(first_epoch, len(VALUES)):
        stopping.on_epoch_end(epoch, {"val_score": VALUES[epoch]})
        if model.stop_training:
            return epoch
    return None


def test_the_run_trained_in_one_go_stops_at_epoch_5(tmp_path):
    callbacks, _ = common.training_callbacks(make_run(tmp_path, []), "val_score", "max", 3)
    assert epoch_it_stops(early_stopping_of(callbacks), 0) == STOP
    # Keras' own callback agrees on the reference.
    keras_stopping = keras.callbacks.EarlyStopping(monitor="val_score", mode="max", patience=3)
    assert epoch_it_stops(keras_stopping, 0) == STOP


@pytest.mark.parametrize("resumed_at", [1, 2, 3, 4])
def test_a_resumed_run_stops_where_the_run_trained_in_one_go_does(tmp_path, resumed_at):
    # The backup holds the logs of the epochs before the kill (as `AtomicBackupAndRestore`
    # writes them, with the other metrics). Before the fix the patience restarted at the
    # resume: resumed after epoch 4 it never stopped (epochs 5 to 8 trained, another best).
    history = [{"loss": 1.0, "val_score": value} for value in VALUES[:resumed_at]]
    run = make_run(tmp_path, history)
    callbacks, _ = common.training_callbacks(run, "val_score", "max", 3)
    assert epoch_it_stops(early_stopping_of(callbacks), resumed_at) == STOP
    assert not run.stopped_early
    assert common.fit_epochs(run, 8) == 8


def test_a_backup_of_a_run_that_had_stopped_trains_no_further(tmp_path, capsys):
    # Killed after `fit` stopped early, while scoring: the rerun trained up to 3 more epochs
    # (and could replace model.keras with a model the run trained in one go never had).
    history = [{"val_score": value} for value in VALUES[: STOP + 1]]
    run = make_run(tmp_path, history)
    common.training_callbacks(run, "val_score", "max", 3)
    assert run.stopped_early
    assert common.fit_epochs(run, 8) == STOP + 1  # `fit` from epoch 5 to 5: no epoch
    assert "stopped early after epoch 5" in capsys.readouterr().out


def test_non_finite_logs_of_the_backup_count_as_no_improvement(tmp_path):
    # The backup writes a NaN as "nan"; a live NaN is no improvement, so patience goes on.
    history = [{"val_loss": 1.0}, {"val_loss": "nan"}, {"val_loss": "inf"}]
    run = make_run(tmp_path, history)
    callbacks, _ = common.training_callbacks(run, "val_loss", "min", 3)
    stopping = early_stopping_of(callbacks)
    model = types.SimpleNamespace(stop_training=False)
    stopping.set_model(model)
    stopping.on_train_begin()
    assert (stopping.wait, float(stopping.best)) == (2, 1.0)
    stopping.on_epoch_end(3, {"val_loss": 1.5})
    assert model.stop_training


class ScriptedScore(keras.callbacks.Callback):
    """Logs ``val_score`` = VALUES[epoch] at each epoch end (the recipes' dev metric)."""

    def on_epoch_end(self, epoch, logs=None):
        logs["val_score"] = VALUES[epoch]


class KilledAtTheEndOf(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the end of epoch ``epoch`` (0-based), after its backup."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def train(tmp_path, killed=None):
    """A recipe's training (`prepare`, `training_callbacks`, `fit` of `fit_epochs`) of a tiny
    model for 8 epochs on ``--out tmp_path/out``; ``killed`` runs last. Returns the epochs
    this `fit` trained."""
    args = common.recipe_parser("test", "unused").parse_args(
        ["--quick", "--out", str(tmp_path / "out"), "--epochs", str(len(VALUES))]
    )
    config, run = common.prepare(args, {"quick": {"epochs": 1, "batch_size": 4}, "full": {}})
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.build()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    callbacks, _ = common.training_callbacks(run, "val_score", "max", 3, before=[ScriptedScore()])
    if killed is not None:
        callbacks.append(killed)
    x = np.arange(16, dtype="float32").reshape(8, 2)
    history = model.fit(
        x,
        x[:, :1],
        epochs=common.fit_epochs(run, config["epochs"]),
        batch_size=4,
        callbacks=callbacks,
        verbose=0,
    )
    return history.epoch


@pytest.mark.slow
def test_a_run_killed_and_resumed_trains_the_epochs_of_a_run_trained_in_one_go(tmp_path):
    assert train(tmp_path / "one_go") == [0, 1, 2, 3, STOP]
    # Killed after the backup of epoch 3 (0-based 2): the rerun trained epochs 3 to 7 (its
    # patience from zero), three epochs more than the run trained in one go.
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "killed", KilledAtTheEndOf(2))
    assert train(tmp_path / "killed") == [3, STOP]
    # Killed after `fit` stopped early, before `finish` (while scoring): no epoch trained again.
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "scoring", KilledAtTheEndOf(STOP))
    assert train(tmp_path / "scoring") == []


@pytest.mark.parametrize("name", ["classifier", "language_model", "tagger", "translate"])
def test_the_recipes_fit_the_epochs_of_fit_epochs(name):
    with open(os.path.join(ROOT, "recipes", f"{name}.py"), encoding="utf-8") as f:
        source = f.read()
    assert re.search(r"epochs=fit_epochs\(run, config\[\"epochs\"\]\)", source)


def test_a_failed_write_of_the_hypotheses_keeps_the_previous_file(tmp_path, monkeypatch):
    translate = load_recipe("translate", prefix="round14")
    path = tmp_path / "test.hyp.txt"
    translate.write_hypotheses(path, ["old one", "old two"])
    assert path.read_text(encoding="utf-8") == "old one\nold two\n"

    def failing(text):
        if text == "b":
            raise OSError(28, "No space left on device")
        return text

    # A failure while writing (a full disk, a Ctrl-C): the file was opened in place and left
    # emptied (or cut short), a hypothesis file of fewer lines than the test set.
    monkeypatch.setattr(translate, "one_line", failing)
    with pytest.raises(OSError):
        translate.write_hypotheses(path, ["a", "b", "c"])
    assert path.read_text(encoding="utf-8") == "old one\nold two\n"
    assert os.listdir(tmp_path) == ["test.hyp.txt"]  # no partial file left either


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_history_json_of_a_resumed_run_is_that_of_the_run_trained_in_one_go(tmp_path):
    # A dev perplexity that overflowed (exp of a val_loss over 88 in float32) at epoch 1.
    class OneGo:
        history = {"loss": [9.0, 3.0], "val_perplexity": [float("inf"), 20.0]}

    class Resumed:
        history = {"loss": [3.0], "val_perplexity": [20.0]}

    for name in ("one_go", "resumed", "nan"):
        (tmp_path / name).mkdir()
    common.write_history(tmp_path / "one_go", OneGo())
    # What `AtomicBackupAndRestore` kept of epoch 1 (`run.history`).
    backup = [{"loss": 9.0, "val_perplexity": "inf"}]
    common.write_history(tmp_path / "resumed", Resumed(), backup)
    one_go = (tmp_path / "one_go" / "history.json").read_text()
    # Was `Infinity`: not JSON, and not the "inf" of the resumed run's file.
    assert strict_json(one_go) == {"loss": [9.0, 3.0], "val_perplexity": ["inf", 20.0]}
    assert (tmp_path / "resumed" / "history.json").read_text() == one_go
    common.write_history(tmp_path / "nan", type("H", (), {"history": {"loss": [float("nan")]}}))
    assert strict_json((tmp_path / "nan" / "history.json").read_text()) == {"loss": ["nan"]}

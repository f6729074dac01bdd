"""results.json of a resumed run times the whole run: a killed run's rerun reported only its own
`fit` time (and the translator a tokens/s of its own epochs), as if the epochs before the kill
had taken no time, and did not say it had resumed."""

import itertools
import json
import os
import types

import keras
import numpy as np
import pytest

from tests.recipes.recipe_modules import load_recipe
from tests.recipes.test_resume_after_kill import (
    kill_after_first_backup,
    run_to_end,
    tagger_command,
)

common = load_recipe("_common", "recipes_round13")


def test_counted_times_stop_at_the_epoch_the_next_process_resumed_from():
    processes = [
        # Killed after writing the time of epoch 3, before its backup was committed.
        {
            "initial_epoch": 0,
            "epochs": {"1": {"seconds": 10.0}, "2": {"seconds": 21.0}, "3": {"seconds": 33.0}},
        },
        # Resumed at 2, killed before it committed an epoch.
        {"initial_epoch": 2, "epochs": {}},
        # Resumed at 2 again, committed epochs 3 and 4; the run now resumes at 4.
        {
            "initial_epoch": 2,
            "epochs": {
                "3": {"seconds": 12.5, "dev": 1.5},
                "4": {"seconds": 26.0, "dev": 3.0},
                "5": {"seconds": 40.0, "dev": 4.5},
            },
        },
    ]
    assert common.counted_times(processes, 4) == [
        {"seconds": 21.0},
        {"seconds": 0.0},
        {"seconds": 26.0, "dev": 3.0},
    ]
    # An epoch whose time was not written (a backup of an older keras_seq): not known.
    assert common.counted_times([{"initial_epoch": 0, "epochs": {}}], 3) == [None]
    assert common.counted_times([], 0) == []


def test_training_time_sums_the_processes_and_says_the_run_resumed():
    assert common.training_time([], {"seconds": 7.5, "dev": 1.25}) == {
        "train_seconds": 7.5,
        "resumed": 0,
        "train_seconds_per_process": [7.5],
        "dev": 1.25,
    }
    earlier = [{"seconds": 21.0}, {"seconds": 0.0}, {"seconds": 26.0, "dev": 3.0}]
    assert common.training_time(earlier, {"seconds": 4.0, "dev": 0.5}) == {
        "train_seconds": 51.0,
        "resumed": 3,
        "train_seconds_per_process": [21.0, 0.0, 26.0, 4.0],
        "dev": 3.5,
    }
    # An earlier process of unknown time: no total rather than the known part as the whole.
    assert common.training_time([None], {"seconds": 4.0, "dev": 0.5}) == {
        "train_seconds": None,
        "resumed": 1,
        "train_seconds_per_process": [None, 4.0],
        "dev": None,
    }


class KilledBeforeTheBackupOf(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the end of epoch ``epoch`` (1-based) once the callbacks
    before it ran, i.e. after the clock wrote that epoch's time and before its backup."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


class KilledAtStart(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        raise KeyboardInterrupt


def fake_clock(monkeypatch):
    """`time.perf_counter` of `_common` as 0, 10, 20, … seconds, one step a reading."""
    ticks = itertools.count(0.0, 10.0)
    monkeypatch.setattr(common, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))


def train(tmp_path, monkeypatch, killed=None, epochs=3):
    """A recipe's training (`prepare`, `training_callbacks`, `fit`) of a tiny model on
    ``--out tmp_path/out``; ``killed`` is inserted before the backup. Returns the `Run`."""
    fake_clock(monkeypatch)
    parser = common.recipe_parser("test", "unused")
    args = parser.parse_args(["--quick", "--out", str(tmp_path / "out"), "--epochs", str(epochs)])
    config, run = common.prepare(args, {"quick": {"epochs": 1, "batch_size": 4}, "full": {}})
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.build()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    callbacks, _ = common.training_callbacks(run, monitor="loss")
    if killed is not None:
        callbacks.insert(len(callbacks) - 1, killed)
    x = np.arange(16, dtype="float32").reshape(8, 2)
    model.fit(x, x[:, :1], epochs=config["epochs"], batch_size=4, callbacks=callbacks, verbose=0)
    return run


def test_a_resumed_run_reports_the_time_of_every_process(tmp_path, monkeypatch):
    # First process: epoch 1 at 10 s, epoch 2 at 20 s, killed before the backup of epoch 2.
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, monkeypatch, KilledBeforeTheBackupOf(2))
    backup = tmp_path / "out" / "backup"
    assert json.loads((backup / "training_state.json").read_text())["epoch"] == 1
    assert json.loads((backup / "training_time.json").read_text()) == {
        "processes": [
            {"initial_epoch": 0, "epochs": {"1": {"seconds": 10.0}, "2": {"seconds": 20.0}}}
        ]
    }
    # Second process: resumes at epoch 1, killed before it finishes an epoch.
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, monkeypatch, KilledAtStart())
    # Third process: resumes at epoch 1 again, trains epochs 2 and 3 (at 10 and 20 s) and ends
    # at 30 s.
    run = train(tmp_path, monkeypatch)
    assert run.initial_epoch == 1
    # Epoch 2 of the first process was trained again: its 10 s are not counted twice.
    assert run.clock.report() == {
        "train_seconds": 40.0,
        "resumed": 2,
        "train_seconds_per_process": [10.0, 0.0, 30.0],
    }


def test_a_run_trained_in_one_go_says_so(tmp_path, monkeypatch):
    run = train(tmp_path, monkeypatch, epochs=2)
    assert run.clock.report() == {
        "train_seconds": 30.0,
        "resumed": 0,
        "train_seconds_per_process": [30.0],
    }


def test_a_backup_of_an_older_keras_seq_has_no_total(tmp_path, monkeypatch):
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, monkeypatch, KilledBeforeTheBackupOf(2))
    os.remove(tmp_path / "out" / "backup" / "training_time.json")  # not written before
    run = train(tmp_path, monkeypatch)
    assert run.clock.report() == {
        "train_seconds": None,
        "resumed": 1,
        "train_seconds_per_process": [None, 30.0],
    }


def test_a_new_run_forgets_a_process_killed_before_its_first_backup(tmp_path, monkeypatch):
    # No backup was committed: the rerun starts over and is not a resume.
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, monkeypatch, KilledAtStart())
    run = train(tmp_path, monkeypatch, epochs=1)
    assert run.initial_epoch == 0
    assert run.clock.report() == {
        "train_seconds": 20.0,
        "resumed": 0,
        "train_seconds_per_process": [20.0],
    }


def written_processes(backup_dir):
    """The processes of ``backup_dir/training_time.json`` ([] before it was written)."""
    path = backup_dir / "training_time.json"
    return json.loads(path.read_text())["processes"] if path.exists() else []


@pytest.mark.slow
def test_killed_tagger_reports_the_whole_runs_time(tmp_path):
    # test_resume_after_kill.py's run, checked for its results.json.
    out = tmp_path / "killed"
    command = tagger_command(out, tmp_path / "resumed.npz")
    epoch = kill_after_first_backup(command, out / "backup")
    processes = written_processes(out / "backup")

    run_to_end(command)
    results = json.loads((out / "results.json").read_text())
    assert results.get("resumed") == 1, results  # absent: the rerun's time only
    (first,) = processes
    assert first["initial_epoch"] == 0
    # Up to the backup resumed: what it trained past that, the rerun trained again.
    first_seconds = first["epochs"][str(epoch)]["seconds"]
    assert results["train_seconds_per_process"][0] == first_seconds
    second = results["train_seconds_per_process"][1]
    assert second > 0
    assert results["train_seconds"] == first_seconds + second
    assert not (out / "backup").exists()


@pytest.mark.slow
def test_translate_resumed_after_its_last_epoch_reports_the_first_process_rate(tmp_path, capsys):
    # A run interrupted while scoring resumes without training: its results.json now has the
    # training time and tokens/s of the process that trained (they were left out).
    translate = load_recipe("translate", "recipes_round13")
    pairs = [("Guten Morgen.", "Good morning."), ("Danke schön.", "Thank you.")] * 8
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    argv = ["--quick", "--out", str(tmp_path / "out"), "--epochs", "1", "--beam-size", "2"]
    argv += ["--set", "vocabulary_size=300", "--set", "units=8", "--set", "embedding_dim=8"]
    argv += [f"--{split}-tsv={data}" for split in ("train", "dev", "test")]
    write_history = translate.write_history

    def interrupted_while_scoring(*args):
        write_history(*args)
        raise KeyboardInterrupt

    translate.write_history = interrupted_while_scoring
    with pytest.raises(KeyboardInterrupt):
        translate.main(argv)
    translate.write_history = write_history
    processes = written_processes(tmp_path / "out" / "backup")
    results = translate.main(argv)
    assert "resuming from the backup" in capsys.readouterr().out
    assert results["epochs_run"] == 1
    assert "train_target_tokens_per_second" in results, results  # was left out
    assert results.get("resumed") == 1, results
    trained = processes[0]["epochs"]["1"]
    assert results["train_seconds_per_process"][0] == trained["seconds"]
    assert results["dev_evaluation_seconds"] == trained["dev_evaluation_seconds"]
    seconds = results["train_seconds"] - results["dev_evaluation_seconds"]
    tokens = results["train_target_tokens_per_second"] * seconds
    assert tokens == pytest.approx(round(tokens), abs=1e-6) and tokens > 0  # one epoch's tokens
    assert seconds > trained["seconds"] - trained["dev_evaluation_seconds"]

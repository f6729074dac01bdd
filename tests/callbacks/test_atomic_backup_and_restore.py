"""AtomicBackupAndRestore: an interrupted fit resumes where its last backup left it and ends
with the weights of an uninterrupted fit (dropout masks included)."""

import json
import os
import re

import keras
import numpy as np
import pytest

from keras_seq.callbacks import AtomicBackupAndRestore

X = np.linspace(-1.0, 1.0, 24, dtype="float32").reshape(8, 3)
Y = np.stack([X.sum(axis=1), X[:, 0] - X[:, 2]], axis=1)


def small_model():
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5), keras.layers.Dense(2)]
    )
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


class Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def fit(model, backup, epochs=4, extra=()):
    return model.fit(
        X, Y, batch_size=4, epochs=epochs, shuffle=False, callbacks=[*extra, backup], verbose=0
    )


def interrupted_then_resumed(backup_factory):
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), backup_factory(), extra=[Interrupt(2)])
    model = small_model()  # a fresh process would rebuild the model the same way
    history = fit(model, backup_factory())
    return model, history


def test_resumes_at_the_saved_epoch_with_the_same_weights(tmp_path):
    reference = small_model()
    fit(reference, AtomicBackupAndRestore(tmp_path / "unused"))

    def backup():
        return AtomicBackupAndRestore(tmp_path / "backup")

    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), backup(), extra=[Interrupt(2)])
    state = AtomicBackupAndRestore.saved_state(tmp_path / "backup")
    assert state["epoch"] == 2
    assert state["weights"] == "epoch-2.weights.h5"
    assert len(state["history"]) == 2
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-2.weights.h5", "training_state.json"]

    model = small_model()
    callback = backup()
    history = fit(model, callback)
    assert history.epoch == [2, 3]
    assert [logs["loss"] for logs in callback.history[:2]] == [
        logs["loss"] for logs in state["history"]
    ]
    assert len(callback.history) == 4
    for got, want in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=got.path)
    np.testing.assert_array_equal(
        model.optimizer.iterations.numpy(), reference.optimizer.iterations.numpy()
    )
    assert not (tmp_path / "backup").exists()  # deleted once fit finished


def test_keras_backup_without_generator_states_draws_other_dropout_masks(tmp_path):
    # Why the dropout generator states are part of the backup: Keras' BackupAndRestore (which
    # `save_weights` only) resumes with other masks, hence other weights.
    reference = small_model()
    fit(reference, AtomicBackupAndRestore(tmp_path / "unused"))
    model, _ = interrupted_then_resumed(
        lambda: keras.callbacks.BackupAndRestore(str(tmp_path / "keras"))
    )
    assert not np.array_equal(model.layers[-1].kernel.numpy(), reference.layers[-1].kernel.numpy())


def test_worker_writes_its_own_dir_and_restores_the_shared_one(tmp_path):
    shared, private = tmp_path / "shared", tmp_path / "worker1"
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), AtomicBackupAndRestore(shared), extra=[Interrupt(1)])
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), AtomicBackupAndRestore(shared, write_dir=private), extra=[Interrupt(3)])
    assert AtomicBackupAndRestore.saved_state(shared)["epoch"] == 1  # read, never written
    assert AtomicBackupAndRestore.saved_state(private)["epoch"] == 3  # resumed at 1, then 2 more


def test_an_uncommitted_write_is_ignored_and_cleaned(tmp_path):
    backup_dir = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), AtomicBackupAndRestore(backup_dir), extra=[Interrupt(1)])
    # What a kill during the next save leaves: a half-written partial file, or a renamed
    # weights file whose state was not committed yet.
    (backup_dir / ".epoch-2.weights.h5.partial-99.weights.h5").write_bytes(b"\x89HDF\r\n")
    (backup_dir / "epoch-2.weights.h5").write_bytes(b"garbage")
    model = small_model()
    history = fit(model, AtomicBackupAndRestore(backup_dir, delete_checkpoint=False), epochs=2)
    assert history.epoch == [1]
    assert sorted(os.listdir(backup_dir)) == ["epoch-2.weights.h5", "training_state.json"]
    assert AtomicBackupAndRestore.saved_state(backup_dir)["epoch"] == 2


def test_logs_become_json(tmp_path):
    callback = AtomicBackupAndRestore(tmp_path, delete_checkpoint=False)
    model = small_model()
    model.fit(X, Y, epochs=1, callbacks=[callback], verbose=0)
    callback.on_epoch_end(
        1, {"loss": float("nan"), "val_loss": np.float32(2.5), "f1": np.array([0.5, np.inf])}
    )
    text = (tmp_path / "training_state.json").read_text()
    expected = {"loss": "nan", "val_loss": 2.5, "f1": [0.5, "inf"]}
    assert json.loads(text)["history"][-1] == expected


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="`backup_dir` must be a non-empty path"):
        AtomicBackupAndRestore("")
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    unbuilt.compile("adam", "mse")
    with pytest.raises(ValueError, match="needs a built model"):
        unbuilt.fit(X, Y, callbacks=[AtomicBackupAndRestore(tmp_path / "b")], verbose=0)
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), AtomicBackupAndRestore(tmp_path / "b"), extra=[Interrupt(1)])
    keras.utils.set_random_seed(7)
    noisier = keras.Sequential(  # the same weights, one more random generator
        [
            keras.Input((3,)),
            keras.layers.Dense(4),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(2),
            keras.layers.GaussianNoise(0.1),
        ]
    )
    noisier.compile(keras.optimizers.Adam(0.01), "mse")
    with pytest.raises(ValueError, match="holds 1 random generator states, the model has 2"):
        fit(noisier, AtomicBackupAndRestore(tmp_path / "b"))


def test_get_config_round_trip(tmp_path):
    callback = AtomicBackupAndRestore(
        tmp_path / "a", write_dir=tmp_path / "b", delete_checkpoint=False
    )
    config = callback.get_config()
    assert config == {
        "backup_dir": str(tmp_path / "a"),
        "write_dir": str(tmp_path / "b"),
        "delete_checkpoint": False,
    }
    assert AtomicBackupAndRestore(**config).get_config() == config


def test_a_backup_of_another_model_is_named_in_the_error(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), AtomicBackupAndRestore(tmp_path / "b"), extra=[Interrupt(1)])
    wider = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5), keras.layers.Dense(2)])
    wider.compile(keras.optimizers.Adam(0.01), "mse")
    message = f"The backup in {tmp_path / 'b'} (epoch 1) does not fit this model"
    with pytest.raises(ValueError, match=re.escape(message)):
        fit(wider, AtomicBackupAndRestore(tmp_path / "b"))
    assert AtomicBackupAndRestore.saved_state(tmp_path / "b")["epoch"] == 1  # left as it was


class LogsExtras(keras.callbacks.Callback):
    """Adds log entries that are not numbers, as any callback may."""

    def on_epoch_end(self, epoch, logs=None):
        logs.update(phase="warmup", frozen=True, note=None, where={"epoch": epoch})


def test_log_values_that_are_not_numbers_are_kept_not_fatal(tmp_path):
    # Every log went through np.asarray(value, "float64"): a callback logging "warmup" ended
    # `fit` with "could not convert string to float", naming no key.
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    fit(small_model(), backup, epochs=2, extra=[LogsExtras()])
    history = AtomicBackupAndRestore.saved_state(str(tmp_path / "backup"))["history"]
    assert [sorted(logs) for logs in history] == [["frozen", "loss", "note", "phase", "where"]] * 2
    assert [(logs["phase"], logs["frozen"], logs["note"], logs["where"]) for logs in history] == [
        ("warmup", True, None, "{'epoch': 0}"),
        ("warmup", True, None, "{'epoch': 1}"),
    ]
    assert all(isinstance(logs["loss"], float) for logs in history)

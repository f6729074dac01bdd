"""Regression tests of the callbacks (audit round 7)."""

import os

import keras
import numpy as np

from keras_seq.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint

X = np.linspace(-1.0, 1.0, 24, dtype="float32").reshape(8, 3)
Y = np.stack([X.sum(axis=1), X[:, 0] - X[:, 2]], axis=1)


def small_model(compiled=True):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    if compiled:
        model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


def test_the_backup_removes_only_its_own_files(tmp_path):
    # The backup directory was removed whole at the end of `fit` (shutil.rmtree), and every
    # `*.weights.h5` in it but the newest at each epoch end: a best checkpoint kept next to the
    # backup, and any other file there, were silently deleted.
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    (run / ".hidden.partial-7").write_text("not the backup's")
    checkpoint = AtomicModelCheckpoint(
        str(run / "best.weights.h5"), monitor="loss", save_best_only=True, save_weights_only=True
    )
    model = small_model()
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[checkpoint, AtomicBackupAndRestore(run)])
    assert sorted(os.listdir(run)) == [".hidden.partial-7", "best.weights.h5", "notes.txt"]
    assert (run / "notes.txt").read_text() == "keep me"
    restored = small_model(compiled=False)
    restored.load_weights(run / "best.weights.h5")  # the best epoch (the loss falls: the last)
    for got, want in zip(restored.weights, model.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    # A directory holding nothing else is removed, as before.
    alone = tmp_path / "alone"
    small_model().fit(X, Y, epochs=2, verbose=0, callbacks=[AtomicBackupAndRestore(alone)])
    assert not alone.exists()


def test_the_checkpoint_messages_name_the_checkpoint_not_its_partial_file(tmp_path, capsys):
    # With verbose=1 Keras printed the path it saved to, which was the hidden partial file
    # (".m-01-….keras.partial-<pid>.keras"), renamed away right after.
    pattern = str(tmp_path / "m-{epoch:02d}.keras")
    checkpoint = AtomicModelCheckpoint(pattern, monitor="loss", save_best_only=True, verbose=1)
    small_model().fit(X, Y, epochs=2, verbose=0, callbacks=[checkpoint])
    printed = capsys.readouterr().out
    assert ".partial-" not in printed
    for epoch in (1, 2):  # the loss falls: both epochs are saved
        final = str(tmp_path / f"m-{epoch:02d}.keras")
        assert f"Epoch {epoch}: finished saving model to {final}\n" in printed
        assert f"saving model to {final}\n" in printed.split("finished")[epoch - 1]
    assert sorted(os.listdir(tmp_path)) == ["m-01.keras", "m-02.keras"]

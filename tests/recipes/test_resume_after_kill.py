"""A recipe killed with SIGKILL mid-training and rerun with the same command resumes from its
last backup and ends with the same weights as a run that was never interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_seq.callbacks import AtomicBackupAndRestore

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCHS = 3
TINY = [
    "--quick",
    "--epochs",
    str(EPOCHS),
    "--steps-per-epoch",
    "20",
    "--max-train-examples",
    "600",
    "--max-eval-examples",
    "40",
    "--deterministic",
]


def tagger_command(out, final_weights):
    return [
        sys.executable,
        os.path.join(ROOT, "recipes", "tagger.py"),
        "--out",
        str(out),
        "--final-weights",
        str(final_weights),
        *TINY,
    ]


def run_to_end(command):
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


def kill_after_first_backup(command, backup_dir):
    """Starts ``command``, waits until a backup of epoch >= 1 is committed, then SIGKILLs it
    (while it trains the next epoch). Returns the epoch of the backup left behind."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600
        while AtomicBackupAndRestore.saved_state(backup_dir) is None:
            assert process.poll() is None, "the run ended before writing a backup"
            assert time.monotonic() < deadline, "no backup after 600 s"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return AtomicBackupAndRestore.saved_state(backup_dir)["epoch"]


@pytest.mark.slow
def test_killed_tagger_resumes_to_the_same_weights(tmp_path):
    reference_out, out = tmp_path / "reference", tmp_path / "killed"
    run_to_end(tagger_command(reference_out, tmp_path / "reference.npz"))

    command = tagger_command(out, tmp_path / "resumed.npz")
    epoch = kill_after_first_backup(command, out / "backup")
    # Killed after the backup of `epoch` was committed and before that of `epoch + 1`: during
    # epoch `epoch + 1` (1-based), its validation or its checkpoints.
    assert 1 <= epoch < EPOCHS
    assert not (tmp_path / "resumed.npz").exists()
    keras.saving.load_model(out / "model.keras")  # the best model so far is whole

    stdout = run_to_end(command)
    assert f"resuming from the backup in {out / 'backup'}: epoch {epoch + 1}" in stdout
    assert f"Epoch {epoch + 1}/{EPOCHS}" in stdout
    assert f"Epoch {epoch}/{EPOCHS}" not in stdout
    assert not (out / "backup").exists()  # deleted once training finished

    # Deterministic ops, the restored dropout generators and a data stream that skips the
    # epochs already trained make the resumed run bit-identical to the uninterrupted one.
    reference = np.load(tmp_path / "reference.npz")
    resumed = np.load(tmp_path / "resumed.npz")
    assert sorted(reference.files) == sorted(resumed.files)
    for name in reference.files:
        np.testing.assert_array_equal(resumed[name], reference[name], err_msg=name)
    reference_history = json.loads((reference_out / "history.json").read_text())
    resumed_history = json.loads((out / "history.json").read_text())
    assert resumed_history == reference_history
    assert all(len(values) == EPOCHS for values in resumed_history.values())
    # The best model of the resumed run is the uninterrupted run's best model.
    best = keras.saving.load_model(out / "model.keras")
    expected = keras.saving.load_model(reference_out / "model.keras")
    for got, want in zip(best.weights, expected.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=got.path)

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_demo_runs_end_to_end_on_a_tiny_budget(tmp_path):
    """train → BLEU → export → check → serve → REST answer (client and curl) → stop."""
    out = tmp_path / "demo"
    run = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "recipes", "demo.py"),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "3",
            "--max-train-pairs",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "[3/3] REST :predict" in run.stdout and "demo OK" in run.stdout
    results = json.loads((out / "train" / "results.json").read_text())
    assert set(results) >= {"greedy", "beam", "config"}
    assert results["epochs_run"] == 1
    assert 0 < results["dev_evaluation_seconds"] < results["train_seconds"]
    assert (out / "models" / "translator" / "1" / "saved_model.pb").exists()

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


def test_demo_server_moves_to_another_port_when_its_port_was_taken(tmp_path, monkeypatch):
    """The demo picks a free port, and `keras-seq serve` binds it only after loading the
    model: if another process takes the port in between, the server exits, and the demo
    starts it again on a new port instead of failing."""
    import socket

    from keras_seq.export import export
    from tests.export.toy_models import make_classifier
    from tests.recipes.recipe_modules import load_recipe

    demo = load_recipe("demo")
    version_dir = export(make_classifier(seed=1), tmp_path, name="toy")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = [taken.getsockname()[1]]
    real_free_port = demo.free_port
    monkeypatch.setattr(demo, "free_port", lambda: ports.pop(0) if ports else real_free_port())
    monkeypatch.setenv("PYTHONPATH", ROOT)
    with taken:
        process, url = demo.start_server(os.path.dirname(version_dir), "toy")
        try:
            assert url != f"http://127.0.0.1:{taken.getsockname()[1]}"
            client = demo.Client(url, "toy")
            assert client.predict([{"text": "the cat"}], signature_name="normalize") == [
                {"normalized": "the cat", "token_count": 2}
            ]
        finally:
            process.terminate()
            process.wait(timeout=60)

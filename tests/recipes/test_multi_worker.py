"""Two workers on 127.0.0.1 train the quick translator with MultiWorkerMirroredStrategy
(TF_CONFIG): both end with the same weights and only the chief writes into --out."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_seq.models import Seq2Seq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = [
    "--quick",
    "--epochs",
    "1",
    "--steps-per-epoch",
    "3",
    "--max-train-pairs",
    "200",
    "--max-eval-examples",
    "20",
    "--beam-size",
    "2",
]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_workers_train_the_quick_translator(tmp_path):
    out = tmp_path / "shared"  # the storage every worker sees, as on a cluster
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    try:
        for index in range(2):
            environment = dict(os.environ)
            environment["TF_CONFIG"] = json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            )
            command = [
                sys.executable,
                os.path.join(ROOT, "recipes", "translate.py"),
                "--strategy",
                "multi_worker",
                "--out",
                str(out),
                "--final-weights",
                str(tmp_path / f"worker{index}.npz"),
                *TINY,
            ]
            log = open(tmp_path / f"worker{index}.log", "w")
            processes.append(
                (
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=environment,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        text=True,
                    ),
                    log,
                )
            )
        for process, _ in processes:
            process.wait(timeout=900)
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    for (process, _), log in zip(processes, logs, strict=True):
        assert process.returncode == 0, log[-4000:]
    assert "strategy: multi_worker (CollectiveAllReduceStrategy), 2 replicas" in logs[0]
    assert "not the chief" not in logs[0]
    assert "not the chief (writing to " in logs[1]
    worker_dir = logs[1].split("not the chief (writing to ")[1].split(")")[0]
    assert not os.path.exists(worker_dir)  # the non-chief's files are gone with it

    chief = np.load(tmp_path / "worker0.npz")
    other = np.load(tmp_path / "worker1.npz")
    assert chief.files == other.files
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], other[name], err_msg=name)

    # Only the chief's files are in --out, each written once and whole.
    assert sorted(os.listdir(out)) == [
        "history.json",
        "model.keras",
        "results.json",
        "test.hyp.txt",
    ]
    results = json.loads((out / "results.json").read_text())
    assert results["train_pairs"] == 200
    hypotheses = (out / "test.hyp.txt").read_text().splitlines()
    assert len(hypotheses) == 20
    model = keras.saving.load_model(out / "model.keras")
    assert isinstance(model, Seq2Seq)
    # One epoch: the best model is the trained one, identical on both workers.
    for variable, name in zip(model.weights, chief.files, strict=True):
        np.testing.assert_array_equal(variable.numpy(), chief[name], err_msg=variable.path)

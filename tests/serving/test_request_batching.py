"""Server-side batching (`create_app(enable_batching=True)`): concurrent requests for one
signature share a session run, and each gets exactly its own rows back."""

import shutil
import threading
import time

import numpy as np
import pytest
import requests

from keras_seq.serving import ModelServer, create_app
from keras_seq.serving.request_batcher import RequestBatcher, batchable
from tests.export.toy_models import eager_outputs, make_classifier, reference_normalize
from tests.serving.local_server import ServerThread, toy_config

TEXTS = ["the cat sat", "a dog on the mat", "", "mat mat", "on", "the dog sat on the cat"]


@pytest.fixture(scope="module")
def model_and_base(tmp_path_factory, toy_version_dir):
    base = tmp_path_factory.mktemp("batching_models")
    shutil.copytree(toy_version_dir, base / "toy" / "1")
    return make_classifier(seed=1), base  # the exported model's weights


def test_concurrent_requests_share_runs_and_get_their_own_rows(model_and_base):
    model, base = model_and_base
    model_server = ModelServer(toy_config(base, versions=[1]), poll_interval=5)
    with ServerThread(
        model_server, num_threads=1, max_queued=32, enable_batching=True, timeout=60.0
    ) as server:
        url = f"{server.url}/v1/models/toy:predict"
        batcher = server.app.state.batcher
        runs_before, requests_before = batcher.runs, batcher.requests

        # A request with a scalar option cannot be batched: it runs alone and holds the only
        # thread while the others arrive and queue.
        blocker = threading.Thread(
            target=requests.post,
            args=(url,),
            kwargs={
                "json": {
                    "signature_name": "spin",
                    "inputs": {"text": ["x"], "iterations": 600_000},
                },
                "timeout": 60,
            },
        )
        blocker.start()
        time.sleep(0.3)
        # Requests of 1, 2 and 3 rows, in row and columnar format, for two signatures.
        bodies = [
            {"instances": TEXTS[:1]},
            {"instances": TEXTS[1:3]},
            {"inputs": {"text": TEXTS[3:6]}},
            {"signature_name": "normalize", "instances": [{"text": t} for t in TEXTS[:2]]},
            {"signature_name": "normalize", "inputs": {"text": TEXTS[2:5]}},
            {"instances": TEXTS[::-1]},
            {"signature_name": "normalize", "instances": [{"text": TEXTS[5]}]},
        ]
        answers = [None] * len(bodies)

        def send(index):
            answers[index] = requests.post(url, json=bodies[index], timeout=60)

        senders = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
        for sender in senders:
            sender.start()
        for sender in senders + [blocker]:
            sender.join(timeout=60)
        runs = batcher.runs - runs_before
        answered = batcher.requests - requests_before

    for answer in answers:
        assert answer.status_code == 200, answer.text
    for index in (0, 1, 5):
        texts = bodies[index]["instances"]
        expected = eager_outputs(model, "serving_default", texts)
        predictions = answers[index].json()["predictions"]
        assert [p["label"] for p in predictions] == [s.decode() for s in expected["label"]]
        np.testing.assert_allclose(
            [p["probabilities"] for p in predictions], expected["probabilities"], rtol=1e-6
        )
    outputs = answers[2].json()["outputs"]
    expected = eager_outputs(model, "serving_default", TEXTS[3:6])
    assert outputs["label"] == [s.decode() for s in expected["label"]]
    np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"], rtol=1e-6)
    assert answers[3].json()["predictions"] == [
        {"normalized": n, "token_count": len(t.split())}
        for n, t in zip(reference_normalize(TEXTS[:2]), TEXTS[:2], strict=True)
    ]
    assert answers[4].json()["outputs"] == {
        "normalized": reference_normalize(TEXTS[2:5]),
        "token_count": [len(t.split()) for t in TEXTS[2:5]],
    }
    assert answers[6].json()["predictions"] == [
        {"normalized": reference_normalize(TEXTS[5:])[0], "token_count": 6}
    ]
    # Every batchable request went through the batcher, in fewer session runs than requests
    # (the blocker ran alone, outside it).
    assert answered == len(bodies)
    assert runs < len(bodies), f"{runs} runs for {len(bodies)} requests: nothing was merged"


def test_batching_off_by_default_and_bad_arguments(model_and_base):
    _, base = model_and_base
    assert create_app(ModelServer(toy_config(base))).state.batcher is None
    with pytest.raises(ValueError, match="need max_rows >= 1 and max_running >= 1, got 0, 1"):
        RequestBatcher(None, max_rows=0, max_running=1)
    text = np.array([b"a", b"b"], object)
    assert batchable({"text": text})
    assert not batchable({"text": text, "separator": np.array(b"-", object)})
    assert not batchable({"source": text, "target": text[:1]})
    assert not batchable({})

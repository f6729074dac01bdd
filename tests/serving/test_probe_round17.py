"""Serving audit, round 17: lifecycle and concurrency against a real HTTP server on 127.0.0.1.

- a version unloaded (its directory deleted, or its model dropped from the config) while a
  request runs on it is ``UNLOADING`` until that request ends (with its own right answer),
  then ``END``, as TF Serving's manager reports a servable whose handles are still held;
- with server-side batching, a request whose signature's outputs depend on the run's inputs
  beyond the batch dimension (tokens padded to the longest text of the run) answers what it
  answers alone, not padded to the longest text of the requests it was merged with;
- with server-side batching, a request answered 504 at its deadline keeps its place in the
  admission bound while its pool job still runs: overload is a 503 at once, not a queue of
  dead work growing behind the pool's threads.

Every wait is bounded.
"""

import shutil
import threading
import time

import keras
import pytest
import requests
import tensorflow as tf

from keras_seq.export import export
from keras_seq.serving import ModelServer, rest_api
from keras_seq.serving.servable import Servable
from tests.export.toy_models import TEXTS, ToyTextClassifier
from tests.serving.local_server import ServerThread, toy_config, wait_for

WAIT = 30  # seconds any awaited event may take


class TokenIdsClassifier(ToyTextClassifier):
    """The toy classifier plus ``tokens``: ``text`` [B] -> ``ids`` [B, T] int64, the
    vocabulary ids of each text's words padded with 0 to the longest text of the run."""

    def token_id_matrix(self, text):
        return {"ids": self.token_ids(text).to_tensor()}

    def serving_signatures(self):
        signatures = super().serving_signatures()
        text = tf.TensorSpec([None], tf.string, name="text")
        signatures["tokens"] = (self.token_id_matrix, [text])
        return signatures


@pytest.fixture(scope="module")
def base(tmp_path_factory, toy_version_dir):
    """BASE/toy/{1,2} (copies of the toy export) and BASE/tokens/1; copied, not altered."""
    base = tmp_path_factory.mktemp("round17")
    for version in (1, 2):
        shutil.copytree(toy_version_dir, base / "toy" / str(version))
    keras.utils.set_random_seed(1)
    model = TokenIdsClassifier()
    model(tf.constant(TEXTS))
    export(model, base, name="tokens", version=1)
    return base


@pytest.fixture
def gate(monkeypatch):
    """Servable.predict of signature ``gate.signature`` waits (at most WAIT s) for
    ``gate.open``; ``gate.entered`` is set once such a run waits."""

    class Gate:
        signature = None
        entered = threading.Event()
        open = threading.Event()

    predict = Servable.predict

    def gated(self, signature_name, inputs, timeout=None):
        if signature_name == Gate.signature:
            Gate.entered.set()
            Gate.open.wait(WAIT)
        return predict(self, signature_name, inputs, timeout=timeout)

    monkeypatch.setattr(Servable, "predict", gated)
    yield Gate
    Gate.open.set()


def _states(url):
    answer = requests.get(url, timeout=WAIT)
    assert answer.status_code == 200, answer.text
    return [(s["version"], s["state"]) for s in answer.json()["model_version_status"]]


def _post_in_thread(url, body, answers, key):
    def send():
        answers[key] = requests.post(url, json=body, timeout=WAIT)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("enable_batching", [False, True])
@pytest.mark.parametrize("how", ["directory deleted", "model removed from the config"])
def test_a_version_unloaded_under_a_running_request_is_unloading_until_it_ends(
    base, tmp_path, gate, how, enable_batching
):
    shutil.copytree(base / "toy", tmp_path / "toy")
    config = toy_config(tmp_path)  # all versions: 1 and 2
    model_server = ModelServer(config, poll_interval=60)
    with ServerThread(
        model_server, num_threads=2, timeout=WAIT, enable_batching=enable_batching
    ) as server:
        gate.signature = "normalize"  # armed once loaded: the warm-up runs it too
        status = f"{server.url}/v1/models/toy"
        assert _states(status) == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
        answers = {}
        sender = _post_in_thread(
            f"{status}/versions/1:predict",
            {"signature_name": "normalize", "instances": ["the cat sat", "a dog"]},
            answers,
            "held",
        )
        assert gate.entered.wait(WAIT), "the request did not reach its session run"

        if how == "directory deleted":
            shutil.rmtree(tmp_path / "toy" / "1")
            model_server.poll()
            unloaded = [("2", "AVAILABLE"), ("1", "UNLOADING")]
            ended = [("2", "AVAILABLE"), ("1", "END")]
        else:
            empty = type(config)()
            empty.model_config_list.SetInParent()
            model_server.reload_config(empty)
            unloaded = [("2", "END"), ("1", "UNLOADING")]
            ended = [("2", "END"), ("1", "END")]
        # Before: END at once, while a request still ran on version 1.
        assert _states(status) == unloaded
        assert _states(f"{status}/versions/1") == [unloaded[1]]
        # New requests no longer reach it.
        refused = requests.post(
            f"{status}/versions/1:predict", json={"instances": ["the"]}, timeout=WAIT
        )
        assert refused.status_code == 404, refused.text

        gate.open.set()
        sender.join(WAIT)
        assert not sender.is_alive()
        # The running request finishes on the unloaded version, with its own answer.
        assert answers["held"].status_code == 200, answers["held"].text
        assert answers["held"].json() == {
            "predictions": [
                {"normalized": "the cat sat", "token_count": 3},
                {"normalized": "[UNK] dog", "token_count": 2},
            ]
        }
        assert wait_for(lambda: _states(status) == ended, WAIT), _states(status)


def test_batched_requests_answer_what_they_answer_alone_when_outputs_are_padded(base, gate):
    config = toy_config(base)
    config.model_config_list.config[0].name = "tokens"
    config.model_config_list.config[0].base_path = str(base / "tokens")
    model_server = ModelServer(config, poll_interval=60)
    texts = ["on", "the cat", "the dog sat"]  # 1, 2 and 3 words
    expected = [[[4]], [[1, 2]], [[1, 6, 3]]]
    with ServerThread(
        model_server, num_threads=1, max_queued=8, timeout=WAIT, enable_batching=True
    ) as server:
        gate.signature = "spin"  # armed once loaded: the warm-up runs it too
        url = f"{server.url}/v1/models/tokens:predict"
        for text, ids in zip(texts, expected, strict=True):  # alone
            body = {"signature_name": "tokens", "instances": [text]}
            assert requests.post(url, json=body, timeout=WAIT).json() == {"predictions": ids}
        answers = {}
        # A request with a scalar input runs outside the batcher and holds the only thread
        # while the three others arrive; the first of them to be parsed runs alone, the
        # other two queue in the batcher together.
        blocker = _post_in_thread(
            url,
            {"signature_name": "spin", "inputs": {"text": ["x"], "iterations": 1}},
            answers,
            "blocker",
        )
        assert gate.entered.wait(WAIT), "the blocker did not reach its session run"
        senders = [
            _post_in_thread(url, {"signature_name": "tokens", "instances": [t]}, answers, t)
            for t in texts
        ]
        time.sleep(1.0)  # the three bodies are read and their parses queued
        gate.open.set()
        for thread in [blocker, *senders]:
            thread.join(WAIT)
            assert not thread.is_alive()
    assert answers["blocker"].json() == {"outputs": ["x0"]}
    # Before, the two merged requests came back padded with 0 to the longer one's length.
    assert [answers[t].json() for t in texts] == [{"predictions": ids} for ids in expected]


def test_batched_request_past_its_deadline_keeps_its_place_while_its_job_runs(base, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    parse = rest_api.parse_predict_request

    def slow_parse(body, *args, **kwargs):
        if b"slow" in body:  # a body whose parse outlasts its deadline
            entered.set()
            release.wait(WAIT)
        return parse(body, *args, **kwargs)

    monkeypatch.setattr(rest_api, "parse_predict_request", slow_parse)
    model_server = ModelServer(toy_config(base), poll_interval=60)
    with ServerThread(
        model_server, num_threads=1, max_queued=0, timeout=0.5, enable_batching=True
    ) as server:
        url = f"{server.url}/v1/models/toy:predict"
        try:
            first = requests.post(url, json={"instances": ["slow"]}, timeout=WAIT)
            assert entered.is_set()
            assert first.status_code == 504, first.text
            # Its parse still holds the only thread: the next request is refused at once.
            # Before, it was admitted, queued behind that parse and answered 504 too.
            started = time.monotonic()
            second = requests.post(url, json={"instances": ["the cat"]}, timeout=WAIT)
            assert second.status_code == 503, second.text
            assert second.json() == {
                "error": "Server overloaded: 1 predictions running or queued (limit 1); retry later"
            }
            assert time.monotonic() - started < 0.4
        finally:
            release.set()

        def served():
            answer = requests.post(url, json={"instances": ["the cat"]}, timeout=WAIT)
            return answer.status_code == 200

        # Once that parse has ended, the place is free again.
        assert wait_for(served, WAIT)

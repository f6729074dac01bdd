"""The client against answers that are not TF Serving's: a gateway in front of the server, or
a client pointed at the wrong service. A real HTTP server on 127.0.0.1 gives those answers."""

import http.server
import threading

import pytest

from keras_seq.serving import Client, ServingError

ANSWERS = {
    "/v1/models/other": (200, b'{"status": "ok"}'),
    "/v1/models/other:predict": (200, b'{"result": [1]}'),
    "/v1/models/gateway": (503, b'{"error": {"code": 503, "message": "no healthy upstream"}}'),
    "/v1/models/empty": (500, b""),
    "/v1/models/html": (502, b"<html>Bad Gateway</html>"),
    "/v1/models/b64:predict": (200, b'{"predictions": [{"b64": "AGI="}, {"b64": "YQ=="}]}'),
    "/v1/models/bad_b64:predict": (200, b'{"predictions": [{"b64": "AA!!AQ=="}]}'),
    "/v1/models/unpadded_b64:predict": (200, b'{"predictions": [{"b64": "AAE"}]}'),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = ANSWERS[self.path]
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.mark.parametrize(
    "model, call, status, message",
    [
        ("other", "status", 200, "is not a JSON object with 'model_version_status'"),
        ("other", "predict", 200, "is not a JSON object with 'predictions'"),
        ("other", "predict_columnar", 200, "is not a JSON object with 'outputs'"),
        ("gateway", "status", 503, '{"code": 503, "message": "no healthy upstream"}'),
        ("empty", "status", 500, "Internal Server Error (empty answer from http://"),
        ("html", "status", 502, "<html>Bad Gateway</html>"),
        # Characters outside base64's alphabet were dropped silently ("AA!!AQ==" -> 3 bytes).
        ("bad_b64", "predict", 200, "holds invalid base64: 'AA!!AQ=='"),
        ("unpadded_b64", "predict", 200, "holds invalid base64: 'AAE'"),
    ],
)
def test_unexpected_answers_raise_serving_error_with_a_str_message(
    url, model, call, status, message
):
    client = Client(url, model, timeout=10)
    arguments = {"status": (), "predict": (["a"],), "predict_columnar": (["a"],)}[call]
    with pytest.raises(ServingError) as info:
        getattr(client, call)(*arguments)
    assert info.value.status_code == status
    assert isinstance(info.value.message, str)
    assert message in info.value.message


def test_b64_answers_are_decoded_to_bytes(url):
    assert Client(url, "b64", timeout=10).predict(["a"]) == [b"\x00b", b"a"]

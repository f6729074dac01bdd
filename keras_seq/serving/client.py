"""A client for TF Serving's REST API (the real server or keras_seq's compatible one)."""

import base64
import binascii
import json
import urllib.parse

import numpy as np
import requests

from keras_seq.serving.serving_error import ServingError


class Client:
    """Talks to one model of a TF Serving REST endpoint.

    Built on ``requests`` (already a TensorFlow dependency, so nothing new to install): a
    ``Session`` keeps connections alive across calls, and every call has a timeout.

    Args:
        url: str. Server root, e.g. ``"http://127.0.0.1:8501"``.
        model: str. Model name.
        version: optional int. Pin a version (``/versions/N``).
        label: optional str. Pin a version label (``/labels/L``); not with ``version``.
        timeout: float. Seconds for connecting and for reading each answer.
        decode_b64: bool. Turn ``{"b64": ...}`` values of answers into ``bytes``.

    Raises:
        ValueError: both ``version`` and ``label`` given; an empty model name or label, or
            one holding ``/`` or ``:``, which TF Serving's REST paths cannot carry.
        TypeError: ``version`` is not an int.

    Request values may be NumPy arrays and scalars (sent as lists and numbers) and
    ``bytes`` (sent as ``{"b64": ...}``, exactly, UTF-8 or not).

    Calls raise ``ServingError`` (HTTP status and the server's ``error`` message, always a
    string: the body text when it has no ``error``) for any non-200 answer and for a 200
    answer without the expected JSON field; ``requests.Timeout`` /
    ``requests.ConnectionError`` when the server does not answer in time or cannot be
    reached.

    Example:

    >>> client = Client("http://127.0.0.1:8501", "classifier")  # doctest: +SKIP
    >>> client.predict(["the cat sat"])  # doctest: +SKIP
    [{'label': 'positive', 'probabilities': [0.2, 0.3, 0.5]}]
    """

    def __init__(self, url, model, version=None, label=None, timeout=30.0, decode_b64=True):
        if version is not None and label is not None:
            raise ValueError(f"give version or label, not both (got {version!r}, {label!r})")
        _check_version(version)
        _path_segment(model, "model name")
        if label is not None:
            _path_segment(label, "label")
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.label = label
        self.timeout = timeout
        self.decode_b64 = decode_b64
        self._session = requests.Session()

    @staticmethod
    def b64(data):
        """Wraps bytes as TF Serving's ``{"b64": ...}`` string value."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        return {"b64": base64.b64encode(data).decode("ascii")}

    def model_url(self, version=None, label=None):
        """``<url>/v1/models/<model>[/versions/N|/labels/L]``, the name and label
        percent-encoded (a ``?``, ``#`` or ``%`` in them would otherwise end the path or
        change it: another model, or another version, would answer; so would a name or
        label ``.`` or ``..``, a dot segment that HTTP clients remove).

        Raises:
            ValueError: ``version`` and ``label`` both given, or a label no REST path can
                carry.
            TypeError: ``version`` is not an int.
        """
        if version is not None and label is not None:
            raise ValueError(f"give version or label, not both (got {version!r}, {label!r})")
        if version is None and label is None:
            version, label = self.version, self.label
        _check_version(version)
        url = f"{self.url}/v1/models/{_path_segment(self.model, 'model name')}"
        if version is not None:
            url += f"/versions/{version}"
        elif label is not None:
            url += f"/labels/{_path_segment(label, 'label')}"
        return url

    def status(self, version=None, label=None):
        """``GET /v1/models/M[...]``: the ``model_version_status`` list."""
        return self._call("GET", self.model_url(version, label), field="model_version_status")

    def metadata(self, version=None, label=None):
        """``GET .../metadata``: the whole answer (``model_spec`` and ``metadata``)."""
        return self._call("GET", self.model_url(version, label) + "/metadata")

    def predict(self, instances, signature_name=None, version=None, label=None):
        """Row-format predict: one element per batch row; returns ``predictions``."""
        body = {"instances": instances}
        if signature_name is not None:
            body["signature_name"] = signature_name
        url = self.model_url(version, label) + ":predict"
        return self._call("POST", url, body, field="predictions")

    def predict_columnar(self, inputs, signature_name=None, version=None, label=None):
        """Columnar predict: a tensor or ``{input: tensor}``; returns ``outputs``."""
        body = {"inputs": inputs}
        if signature_name is not None:
            body["signature_name"] = signature_name
        url = self.model_url(version, label) + ":predict"
        return self._call("POST", url, body, field="outputs")

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _call(self, method, url, body=None, field=None):
        """The answer's JSON object, or its ``field``; ServingError for any other answer."""
        data = None if body is None else json.dumps(body, default=_json_value)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = self._session.request(
            method, url, data=data, headers=headers, timeout=self.timeout
        )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200:
            message = payload.get("error") if isinstance(payload, dict) else None
            if message is not None and not isinstance(message, str):
                message = json.dumps(message)  # e.g. a gateway's {"error": {"code": ...}}
            raise ServingError(
                response.status_code,
                message or response.text or f"{response.reason} (empty answer from {url})",
            )
        if not isinstance(payload, dict) or (field is not None and field not in payload):
            expected = "a JSON object" if field is None else f"a JSON object with {field!r}"
            raise ServingError(
                response.status_code,
                f"answer from {url} is not {expected}: {response.text[:200]}",
            )
        if self.decode_b64:
            try:
                payload = self._decode(payload)
            except binascii.Error as error:
                raise ServingError(
                    response.status_code, f"answer from {url} holds invalid base64: {error}"
                ) from None
        return payload if field is None else payload[field]

    def _decode(self, value):
        if isinstance(value, dict):
            if len(value) == 1 and isinstance(value.get("b64"), str):
                try:
                    # validate: other characters would be dropped silently, not refused.
                    return base64.b64decode(value["b64"], validate=True)
                except binascii.Error as error:
                    raise binascii.Error(f"{value['b64'][:50]!r}: {error}") from None
            return {k: self._decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._decode(v) for v in value]
        return value


def _check_version(version):
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise TypeError(f"version must be an int, got {version!r}")


def _path_segment(text, what):
    """``text`` percent-encoded as one path segment; ValueError when TF Serving's
    ``/v1/models/([^/:]+)`` could not match it."""
    if not isinstance(text, str) or not text or "/" in text or ":" in text:
        raise ValueError(
            f"{what} must be a non-empty str without '/' or ':' (TF Serving's REST paths "
            f"cannot carry them), got {text!r}"
        )
    quoted = urllib.parse.quote(text, safe="")
    if quoted in (".", ".."):
        # A whole segment "." or ".." is a dot segment: requests (urllib3) removes it with
        # the segment before, so label ".." sent .../labels/../metadata as .../metadata and
        # got the latest version's answer. "%2E" is not removed.
        quoted = quoted.replace(".", "%2E")
    return quoted


def _json_value(value):
    """What ``json.dumps`` cannot write by itself: NumPy arrays and scalars as lists and
    numbers, ``bytes`` as TF Serving's ``{"b64": ...}`` (strings that need not be UTF-8)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, np.generic):
            # np.longdouble (float128) and np.clongdouble: .item() gives them back unchanged,
            # and json.dumps called this again without end (RecursionError). JSON numbers
            # are doubles at most, as are TF Serving's inputs.
            if isinstance(item, np.floating):
                return float(item)
            raise TypeError(
                f"Object of type {type(value).__name__} is not JSON serializable (send "
                "lists, numbers, str, bytes or NumPy arrays)"
            )
        return item
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Client.b64(bytes(value))
    raise TypeError(
        f"Object of type {type(value).__name__} is not JSON serializable (send lists, "
        "numbers, str, bytes or NumPy arrays)"
    )

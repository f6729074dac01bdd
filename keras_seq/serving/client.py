"""A client for TF Serving's REST API (the real server or keras_seq's compatible one)."""

import base64
import binascii
import json
import math
import numbers
import urllib.parse

import numpy as np
import requests

from keras_seq.serving.serving_error import ServingError


class Client:
    """Talks to one model of a TF Serving REST endpoint.

    Built on ``requests`` (already a TensorFlow dependency, so nothing new to install): a
    ``Session`` keeps connections alive across calls, and every call has a timeout.

    Args:
        url: str. Server root, e.g. ``"http://127.0.0.1:8501"`` (``http`` or ``https``; a
            path prefix such as a gateway's ``/tfs`` is kept).
        model: str. Model name.
        version: optional int. Pin a version (``/versions/N``, 0 to 2**63 - 1 as TF
            Serving's int64 versions; a NumPy integer is taken as its value).
        label: optional str. Pin a version label (``/labels/L``); not with ``version``.
        timeout: float. Seconds (> 0) for connecting, and for each wait for the answer's
            next bytes (requests' timeout: not a bound on the whole call).
        decode_b64: bool. Turn ``{"b64": ...}`` values of answers into ``bytes``.

    Raises:
        ValueError: both ``version`` and ``label`` given; a negative version or one past
            int64; an empty model name or label, or one holding ``/`` or ``:``, which TF
            Serving's REST paths cannot carry; a ``url`` that is not ``http(s)://host...``
            (``"localhost:8501"`` failed only at the first call, with requests'
            "No connection adapters were found"), or holds a query or fragment; a
            ``timeout`` that is not a positive number (``None`` waited forever, ``0`` failed
            at each call).
        TypeError: ``version`` is not an integer.

    Request values may be NumPy arrays and scalars (sent as lists and numbers) and
    ``bytes`` (sent as ``{"b64": ...}``, exactly, UTF-8 or not).

    Calls raise ``ServingError`` (HTTP status and the server's ``error`` message, always a
    string: the body text when it has no ``error``, its first 1000 characters when it is
    not JSON) for any non-200 answer and for a 200 answer without the expected JSON field;
    ``requests.Timeout`` / ``requests.ConnectionError`` when the server does not answer in
    time or cannot be reached (other ``requests.RequestException`` such as
    ``ChunkedEncodingError`` for an answer cut short). A redirect of a ``:predict`` POST is
    not followed (requests would resend 301/302/303 as a GET without the body): it is a
    ``ServingError`` with the 3xx status naming the ``Location``; GETs follow redirects.

    The client never retries. Every call is idempotent (a predict changes nothing on the
    server), so retrying a 429/503 or a ``requests.ConnectionError`` is safe; after a
    ``requests.Timeout`` the server may still run the request. One client may be shared by
    threads: requests' connection pool is thread-safe and keeps up to 10 connections per
    host (more threads open extra connections, closed after use).

    Example:

    >>> client = Client("http://127.0.0.1:8501", "classifier")  # doctest: +SKIP
    >>> client.predict(["the cat sat"])  # doctest: +SKIP
    [{'label': 'positive', 'probabilities': [0.2, 0.3, 0.5]}]
    """

    def __init__(self, url, model, version=None, label=None, timeout=30.0, decode_b64=True):
        if version is not None and label is not None:
            raise ValueError(f"give version or label, not both (got {version!r}, {label!r})")
        version = _check_version(version)
        _path_segment(model, "model name")
        if label is not None:
            _path_segment(label, "label")
        _check_timeout(timeout)
        self.url = _check_url(url)
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
            ValueError: ``version`` and ``label`` both given, a version out of int64's
                non-negative range, or a label no REST path can carry.
            TypeError: ``version`` is not an integer.
        """
        if version is not None and label is not None:
            raise ValueError(f"give version or label, not both (got {version!r}, {label!r})")
        if version is None and label is None:
            version, label = self.version, self.label
        version = _check_version(version)
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
        # A 301/302/303 would be followed as a GET without the body (requests does what
        # browsers do), and a predict answered by whatever that GET gets.
        response = self._session.request(
            method,
            url,
            data=data,
            headers=headers,
            timeout=self.timeout,
            allow_redirects=method == "GET",
        )
        if response.is_redirect:
            raise ServingError(
                response.status_code,
                f"{url} redirects to {response.headers['Location']!r}; the client does not "
                "follow a redirect of a POST (its body would be dropped): use that URL",
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
                message
                or _body_excerpt(response, 1000)
                or f"{response.reason} (empty answer from {url})",
            )
        if not isinstance(payload, dict) or (field is not None and field not in payload):
            expected = "a JSON object" if field is None else f"a JSON object with {field!r}"
            raise ServingError(
                response.status_code,
                f"answer from {url} is not {expected}: {_body_excerpt(response, 200)}",
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


_MAX_VERSION = 2**63 - 1  # TF Serving's versions are int64


def _check_version(version):
    """``version`` as an int (or None); TypeError / ValueError where no path can carry it."""
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, numbers.Integral):
        raise TypeError(f"version must be an int, got {version!r}")
    version = int(version)  # np.int64(2) was refused; it is a version like 2
    if not 0 <= version <= _MAX_VERSION:
        # "/versions/-1" is no version to TF Serving's path pattern (\d+): a 400
        # "Malformed request" from the server, where the mistake is the caller's.
        raise ValueError(f"version must be between 0 and 2**63 - 1, got {version}")
    return version


def _check_timeout(timeout):
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, numbers.Real)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def _check_url(url):
    """``url`` without its trailing slashes; ValueError for what is no server root."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be a str 'http://host:port' or 'https://...', got {url!r}")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        # The model path would follow them: part of the query, or never sent at all.
        raise ValueError(f"url must have no query or fragment, got {url!r}")
    return url.rstrip("/")


def _body_excerpt(response, limit):
    """The first ``limit`` characters of an answer that is not the JSON expected, decoded
    with its declared charset, else as UTF-8: requests reads an undeclared ``text/*`` body
    as Latin-1 (a proxy's "—" came out as "â\x80\x94"), and guesses, slowly on a large
    body, when there is no Content-Type."""
    declared = None
    if "charset=" in response.headers.get("Content-Type", "").lower():
        declared = requests.utils.get_encoding_from_headers(response.headers)
    head = response.content[: 4 * limit]  # UTF-8 takes at most 4 bytes a character
    try:
        text = head.decode(declared or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = head.decode("utf-8", "replace")
    if len(text) > limit or len(response.content) > len(head):
        return f"{text[:limit]}... ({len(response.content)} bytes)"
    return text


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

"""TF Serving's REST API on Starlette + uvicorn, with bounded concurrency.

Routes (tensorflow_serving/model_servers/http_rest_api_handler.cc):

- ``GET  /v1/models/M[/versions/N|/labels/L]``            model status
- ``GET  /v1/models/M[/versions/N|/labels/L]/metadata``   signature defs
- ``POST /v1/models/M[/versions/N|/labels/L]:predict``    row or columnar predict

matched without regard to case, as TF Serving's patterns are (``(?i)``).

Predictions run on a fixed pool of ``num_threads`` threads; at most ``max_queued`` more wait.
Beyond that the server answers 503 at once instead of queueing without bound. Each request has
a deadline ``timeout`` seconds after it arrives: the answer is 504 then, and the session run
itself is cancelled at the deadline (``RunOptions.timeout_in_ms``, as TF Serving does), so a
thread is never held longer. uvicorn handles SIGTERM/SIGINT: it stops accepting connections,
lets in-flight requests finish (each within its deadline), then the lifespan hook drops what
is still queued, stops polling and closes the sessions.

Limits on what one request may ask (each answered with a 4xx and ``{"error": ...}``): the body
size (413; decompressed too, for a ``Content-Encoding: gzip`` body, which TF Serving also
accepts), the number of rows (``max_batch_size``, 400) and the bytes of each string value
(``max_string_bytes``, 400). Every other answer, routing errors included, is JSON too.
"""

import asyncio
import contextlib
import json
import logging
import re
import signal
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Route

from keras_seq.export.standalone_checker import MAX_VERSION
from keras_seq.serving.json_tensor import format_predict_response, parse_predict_request
from keras_seq.serving.request_batcher import RequestBatcher, batchable, splittable
from keras_seq.serving.serving_error import ServingError

logger = logging.getLogger(__name__)

# TF Serving's kPredictionApiGegex / kModelStatusApiRegex (http_rest_api_util.cc): a version
# is ASCII digits (RE2's \d), so /versions/x, /versions/-1 or /versions/+1 match no route and
# answer "Malformed request", as there. [0-9], not Python's \d, which also takes the digits
# of other scripts.
# Like TF Serving's patterns (and its handler's "(?i)/v1/.*"), case-insensitive: /V1/Models/toy
# /Versions/1 is version 1 of toy there. What it then compares exactly stays exact here: a
# POST ...:PREDICT is a "Malformed request", and GET .../METADATA answers the model status
# (the subresource is "metadata" only in lower case).
_MODEL_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<suffix>/metadata|:predict|:classify|:regress)?\Z",
    re.IGNORECASE,
)  # \Z: "$" would also match before a trailing newline ("toy:predict%0A")
# A status or metadata path without a model name, which TF Serving's status pattern matches.
_NO_MODEL_PATH = re.compile(
    r"^/v1/models(?:/versions/[0-9]+|/labels/[^/:]+)?(?:/metadata)?\Z", re.IGNORECASE
)
_API_PATH = re.compile(r"^/v1/", re.IGNORECASE)


def _json_response(status_code, payload):
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return Response(text, status_code=status_code, media_type="application/json")


def _error_response(error):
    return _json_response(error.status_code, {"error": error.message})


class _Admission:
    """Counts running + queued predictions; refuses beyond the bound. Thread-safe: a
    prediction leaves when its last pool job ends, in that job's thread."""

    def __init__(self, limit):
        self.limit = limit
        self.pending = 0
        self._lock = threading.Lock()

    def enter(self):
        """Takes a place; raises 503 when there is none."""
        with self._lock:
            if self.pending >= self.limit:
                raise ServingError(
                    503,
                    f"Server overloaded: {self.pending} predictions running or queued "
                    f"(limit {self.limit}); retry later",
                )
            self.pending += 1

    def leave(self):
        with self._lock:
            self.pending -= 1


class _Hold:
    """What one admitted prediction holds, its place in :class:`_Admission` and its servable
    (``Servable.acquire``), until its handler and every pool job it started have ended: a
    request answered 504 at its deadline may still run in a pool thread (parsing its body,
    or a run that has not seen the cancellation yet), and that thread is neither free for
    another request nor done with the version."""

    def __init__(self, servable, admission):
        self.servable = servable
        self._admission = admission
        self._count = 1  # the handler's own, ended by `end`
        self._lock = threading.Lock()

    def begin(self):
        with self._lock:
            self._count += 1

    def end(self):
        with self._lock:
            self._count -= 1
            last = self._count == 0
        if last:
            self.servable.release()
            self._admission.leave()

    def submit(self, pool, function, *args):
        """``function(*args)`` in ``pool``, as an asyncio future; held until it ends."""
        self.begin()
        try:
            job = pool.submit(function, *args)
        except BaseException:
            self.end()
            raise
        job.add_done_callback(lambda _: self.end())
        future = asyncio.wrap_future(job)
        future.add_done_callback(_retrieve)
        return future


def _retrieve(future):
    if not future.cancelled():
        future.exception()  # retrieved: a run that ends after its 504 logs nothing


DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
# TF Serving's batching default (BasicBatchScheduler::Options::max_batch_size).
DEFAULT_MAX_BATCH_SIZE = 1000
DEFAULT_MAX_STRING_BYTES = 64 * 1024
# What Route needs to hand every request to `handle`, which answers TF Serving's 400 for the
# methods it does not serve.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _read_body(request, limit):
    """The request body, refused with 413 past ``limit`` bytes (declared or streamed).

    A body sent with ``Content-Encoding: gzip`` is decompressed, as TF Serving's HTTP server
    does by default (``RequestHandlerOptions::auto_uncompress_input``: any Content-Encoding
    holding ``gzip``), and the limit applies to the decompressed bytes too.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ServingError(413, f"Request body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServingError(413, f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if "gzip" in request.headers.get("content-encoding", ""):
        body = await asyncio.to_thread(_gunzip, body, limit)
    return body


def _gunzip(body, limit):
    """A gzip body decompressed, at most ``limit`` bytes of it (413 past that: a few KiB of
    gzip can expand to gigabytes); 400 when it is not gzip or is cut short."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as error:
        raise ServingError(
            400, f"Request body sent with Content-Encoding: gzip does not decompress: {error}"
        ) from None
    if len(data) > limit:
        raise ServingError(
            413, f"Request body exceeds the limit of {limit} bytes once decompressed"
        )
    if not decompressor.eof:
        raise ServingError(
            400, "Request body sent with Content-Encoding: gzip is cut short (incomplete gzip)"
        )
    if decompressor.unused_data:
        # Several concatenated gzip members: refused rather than silently cut to the first.
        raise ServingError(
            400, "Request body sent with Content-Encoding: gzip has data after its gzip stream"
        )
    return data


def create_app(
    model_server,
    num_threads=4,
    max_queued=16,
    timeout=30.0,
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    max_batch_size=DEFAULT_MAX_BATCH_SIZE,
    max_string_bytes=DEFAULT_MAX_STRING_BYTES,
    enable_batching=False,
):
    """The Starlette application serving ``model_server`` over TF Serving's REST API.

    Args:
        model_server: a started or unstarted ``ModelServer`` (started by the lifespan hook
            if needed, stopped at shutdown).
        num_threads: int. Size of the thread pool running sessions.
        max_queued: int. Predictions allowed to wait for a thread; more get 503.
        timeout: float. Seconds from a request's arrival to its deadline: the answer is 504
            then, and its session run is cancelled.
        max_request_bytes: int. Larger request bodies are refused with 413 before parsing.
        max_batch_size: int or None. Most rows (``instances``, or the length of each
            ``inputs`` list) per request; more get 400. None: no limit.
        max_string_bytes: int or None. Most bytes per string value; longer get 400. It bounds
            the work a model does before its own limits apply (e.g. encoding a source the
            signature does not truncate). None: no limit.
        enable_batching: bool. Merge concurrent requests for the same signature into one
            session run of up to ``max_batch_size`` rows (1000 when None); see
            :class:`~keras_seq.serving.request_batcher.RequestBatcher`. ``app.state.batcher``
            counts its runs.

    Returns:
        A ``starlette.applications.Starlette``.

    Raises:
        ValueError: a limit out of range.
    """
    if num_threads < 1 or max_queued < 0 or timeout <= 0 or max_request_bytes < 1:
        raise ValueError(
            f"need num_threads >= 1, max_queued >= 0, timeout > 0, max_request_bytes >= 1; "
            f"got {num_threads}, {max_queued}, {timeout}, {max_request_bytes}"
        )
    for name, value in (("max_batch_size", max_batch_size), ("max_string_bytes", max_string_bytes)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"{name} must be None or an int >= 1, got {value!r}")
    pool = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="predict")
    admission = _Admission(num_threads + max_queued)
    batcher = None
    if enable_batching:
        batcher = RequestBatcher(pool, max_batch_size or DEFAULT_MAX_BATCH_SIZE, num_threads)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if model_server._thread is None:
            await asyncio.get_running_loop().run_in_executor(None, model_server.start)
        yield
        # Requests still queued have answered 504 or lost their client by now; running
        # sessions end by their deadline.
        pool.shutdown(wait=True, cancel_futures=True)
        model_server.stop()

    async def handle(request):
        # The decoded path as the ASGI server gives it. request.url.path re-parses it as a
        # URL, which drops tabs and line breaks and cuts it at a decoded "?" or "#": a
        # model named "toy?beta" (sent as toy%3Fbeta) would have reached "toy".
        path = request.scope["path"]
        if _API_PATH.match(path) is None:
            return _error_response(ServingError(404, "Not Found"))
        match = _MODEL_PATH.match(path)
        method = request.method
        if match is None:
            if method == "GET" and _NO_MODEL_PATH.match(path):
                return _error_response(ServingError(400, "Missing model name in request."))
            return _error_response(ServingError(400, f"Malformed request: {method} {path}"))
        name, suffix = match["name"], match["suffix"]
        try:
            version = _parse_version(match["version"])
            label = match["label"]
            if method == "GET" and (suffix is None or suffix.lower() == "/metadata"):
                if suffix != "/metadata":
                    return _json_response(200, model_server.status(name, version, label))
                servable = model_server.servable(name, version, label)
                return _json_response(
                    200,
                    {
                        "model_spec": {
                            "name": name,
                            "signature_name": "",
                            "version": str(servable.version),
                        },
                        "metadata": servable.metadata(),
                    },
                )
            if method == "POST" and suffix == ":predict":
                deadline = time.monotonic() + timeout
                body = await _read_body(request, max_request_bytes)
                return await _predict(name, version, label, body, deadline)
            if method == "POST" and suffix in (":classify", ":regress"):
                raise ServingError(
                    501, f"{suffix[1:]} is not implemented by this server; use :predict"
                )
            raise ServingError(400, f"Malformed request: {method} {path}")
        except ServingError as error:
            return _error_response(error)
        except ClientDisconnect:
            return _error_response(ServingError(499, "Client closed the request"))
        except Exception as error:  # noqa: BLE001 - answer in TF Serving's shape, and log
            logger.exception("request %s %s failed", method, path)
            return _error_response(ServingError(500, f"{type(error).__name__}: {error}"))

    async def _predict(name, version, label, body, deadline):
        # Held as one step with the lookup: a version unloaded meanwhile is UNLOADING until
        # this request ends on it.
        servable = model_server.acquire(name, version, label)
        try:
            admission.enter()
        except ServingError:
            servable.release()
            raise
        hold = _Hold(servable, admission)
        try:
            if batcher is not None:
                return await _predict_batched(hold, body, deadline)
            return await _predict_alone(hold, body, deadline)
        finally:
            hold.end()

    async def _predict_alone(hold, body, deadline):
        future = hold.submit(pool, _run_predict, hold.servable, body, deadline, limits)
        timed_out = ServingError(504, f"Request timed out after {timeout} s")
        try:
            text = await asyncio.wait_for(
                asyncio.shield(future), max(deadline - time.monotonic(), 0)
            )
        except TimeoutError:
            raise timed_out from None
        except ServingError as error:
            if error.status_code == 504:  # the session run hit the deadline first
                raise timed_out from None
            raise
        return _json_response(200, text)

    async def _predict_batched(hold, body, deadline):
        servable = hold.servable

        async def parse_run_format():
            signature_name, inputs, row_format = await hold.submit(
                pool, _parse_predict, servable, body, deadline, limits
            )
            signature = servable.signature_defs.get(signature_name or "serving_default")
            if batchable(inputs) and splittable(signature):
                hold.begin()  # ended by the batcher once its run ended
                try:
                    submitted = batcher.submit(
                        servable, signature_name, inputs, deadline, done=hold.end
                    )
                except BaseException:
                    hold.end()
                    raise
                outputs = await submitted
            else:
                outputs = await hold.submit(
                    pool, _run_alone, servable, signature_name, inputs, deadline
                )
            return await hold.submit(pool, format_predict_response, outputs, row_format)

        try:
            text = await asyncio.wait_for(parse_run_format(), max(deadline - time.monotonic(), 0))
        except TimeoutError:
            raise ServingError(504, f"Request timed out after {timeout} s") from None
        except ServingError as error:
            if error.status_code == 504:
                raise ServingError(504, f"Request timed out after {timeout} s") from None
            raise
        return _json_response(200, text)

    async def http_error(request, error):
        # Starlette's own answers (no route: 404) in TF Serving's shape.
        return _error_response(ServingError(error.status_code, error.detail))

    limits = {"max_batch_size": max_batch_size, "max_string_bytes": max_string_bytes}
    routes = [Route("/{path:path}", handle, methods=_METHODS)]  # "/V1/..." too
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    app.router.redirect_slashes = False  # "/v1" is a JSON 404, not a redirect to "/v1/"
    app.state.batcher = batcher
    return app


def _parse_version(text):
    """The version of a path `_MODEL_PATH` matched (ASCII digits), or None."""
    if text is None:
        return None
    if int(text) > MAX_VERSION:  # TF Serving parses it as an int64
        raise ServingError(400, f"Failed to convert version: {text} to numeric.")
    return int(text)


def _parse_predict(servable, body, deadline, limits):
    if deadline <= time.monotonic():  # waited for a thread past the deadline: not parsed
        raise ServingError(504, "Request timed out before it ran")
    return parse_predict_request(body, servable.input_dtypes, **limits)


def _run_predict(servable, body, deadline, limits):
    signature_name, inputs, row_format = _parse_predict(servable, body, deadline, limits)
    outputs = _run_alone(servable, signature_name, inputs, deadline)
    return format_predict_response(outputs, row_format)


def _run_alone(servable, signature_name, inputs, deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:  # waited for a thread past the deadline: the client has its 504
        raise ServingError(504, "Request timed out before it ran")
    return servable.predict(signature_name, inputs, timeout=remaining)


def run_server(
    model_server,
    host="127.0.0.1",
    port=8501,
    num_threads=4,
    max_queued=16,
    timeout=30.0,
    log_level="info",
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    max_batch_size=DEFAULT_MAX_BATCH_SIZE,
    max_string_bytes=DEFAULT_MAX_STRING_BYTES,
    enable_batching=False,
):
    """Serves until SIGTERM/SIGINT, then shuts down gracefully.

    On SIGTERM the server stops accepting connections and exits once in-flight requests have
    answered; since each request ends by its deadline, that takes at most ``timeout`` seconds
    plus the time to close the sessions.

    Args:
        model_server: ``ModelServer``.
        host: str. Interface to bind; loopback only unless told otherwise.
        port: int. TF Serving's ``--rest_api_port`` (8501 in the official image).
        num_threads, max_queued, timeout, max_request_bytes, max_batch_size,
            max_string_bytes, enable_batching: see :func:`create_app`.
        log_level: str. uvicorn's log level.
    """
    app = create_app(
        model_server,
        num_threads=num_threads,
        max_queued=max_queued,
        timeout=timeout,
        max_request_bytes=max_request_bytes,
        max_batch_size=max_batch_size,
        max_string_bytes=max_string_bytes,
        enable_batching=enable_batching,
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=timeout
    )
    server = uvicorn.Server(config)
    if threading.current_thread() is threading.main_thread():
        # uvicorn drains in-flight requests on SIGTERM/SIGINT, then re-raises the signal
        # to the handler installed before it started; make that one a no-op so a graceful
        # stop exits with status 0.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _stopped)
    server.run()
    logger.info("server stopped")


def _stopped(signum, frame):
    logger.info("received %s after shutdown", signal.Signals(signum).name)

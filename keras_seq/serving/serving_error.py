"""The error type of the REST path: an HTTP status plus TF Serving's ``error`` message."""

# TF Serving's mapping of canonical error codes to HTTP statuses (ToHTTPStatusCode in
# model_servers/http_server.cc), every code of it: a session run can fail with any of them
# (tf.errors.PermissionDeniedError reading a file, AbortedError...).
HTTP_STATUS_BY_CODE = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INTERNAL": 500,
    "DATA_LOSS": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


class ServingError(Exception):
    """A failed REST call: the HTTP status and the server's ``{"error": ...}`` message.

    Raised by the local server's handlers (and turned into the HTTP answer) and by
    ``keras_seq.serving.Client`` when a server answers with an error status.

    Args:
        status_code: int. HTTP status (400, 404, 429, 500, 503, 504...).
        message: str. The ``error`` field of the response body.
        code: optional str. The canonical error code name (``"DATA_LOSS"``...) when known;
            by default the first code of TF Serving's table with ``status_code`` (400:
            ``INVALID_ARGUMENT``), ``UNKNOWN`` for a status outside it. A version that
            fails to load is reported in the model status with this code.

    Example:

    >>> error = ServingError(404, "Servable not found for request: Latest(m)")
    >>> error.status_code, error.code, str(error)
    (404, 'NOT_FOUND', 'HTTP 404: Servable not found for request: Latest(m)')
    """

    def __init__(self, status_code, message, code=None):
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.code = code or next(
            (name for name, status in HTTP_STATUS_BY_CODE.items() if status == status_code),
            "UNKNOWN",
        )

    def __reduce__(self):
        # Exception's own reduce rebuilds from ``self.args`` (the one formatted string), which
        # this __init__ cannot take: pickle (a ProcessPoolExecutor or multiprocessing worker
        # raising it) and copy.copy failed with a TypeError in place of the error.
        return type(self), (self.status_code, self.message, self.code)

    @classmethod
    def from_code(cls, code, message):
        """Builds the error for a canonical code name such as ``"INVALID_ARGUMENT"``."""
        if code not in HTTP_STATUS_BY_CODE:
            code = "UNKNOWN"
        return cls(HTTP_STATUS_BY_CODE[code], message, code)

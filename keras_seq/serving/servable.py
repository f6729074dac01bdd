"""One loaded model version, run the way TF Serving runs it (TF1 session, tensor names)."""

import logging
import os
import threading

import tensorflow as tf
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from keras_seq.export import standalone_checker
from keras_seq.serving.serving_error import ServingError

logger = logging.getLogger(__name__)

_tensorflow_text_loaded = threading.Lock()
_tensorflow_text_state = {"loaded": False}


def _ensure_tensorflow_text_kernels():
    with _tensorflow_text_loaded:
        if not _tensorflow_text_state["loaded"]:
            standalone_checker.load_tensorflow_text_kernels()
            _tensorflow_text_state["loaded"] = True


class Servable:
    """A SavedModel version loaded into a TF1 session, as TF Serving's C++ server loads it.

    ``tf.compat.v1.saved_model.loader.load`` restores the ``serve`` MetaGraph into its own
    graph and session; a prediction feeds and fetches the SignatureDef's tensor names, filling
    omitted inputs from ``SignatureDef.defaults``. ``Session.run`` is thread-safe, so one
    Servable serves concurrent requests.

    Args:
        name: str. Model name.
        version: int. Version number.
        path: str. The version directory.
        warmup: bool. Replay ``assets.extra/tf_serving_warmup_requests`` after loading, as
            TF Serving does; a failing record fails the load.

    Raises:
        ServingError: the version does not load, with the canonical code and message of
            the status TF Serving's loader fails with (``NOT_FOUND`` "Could not find
            SavedModel .pb or .pbtxt ...", ``DATA_LOSS`` "Can't parse ... as binary proto",
            ``NOT_FOUND`` for no ``serve`` MetaGraph, a TensorFlow error's own code, a failing
            warm-up record's code, ``INVALID_ARGUMENT`` for more than 1000 warm-up records);
            ``UNKNOWN`` with the error's text for anything else.

    Example:

    >>> servable = Servable("toy", 1, "/models/toy/1")  # doctest: +SKIP
    >>> servable.predict("serving_default", {"text": np.array([b"the cat"], object)})
    ... # doctest: +SKIP
    """

    def __init__(self, name, version, path, warmup=True):
        self.name = name
        self.version = version
        self.path = path
        self.warmup = warmup
        _ensure_tensorflow_text_kernels()
        saved_model_file = _saved_model_file(path)
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        try:
            with self._graph.as_default():
                meta_graph = tf.compat.v1.saved_model.loader.load(self._session, ["serve"], path)
        except Exception as error:
            self._session.close()
            raise _load_error(error, saved_model_file) from error
        self._graph.finalize()
        self.signature_defs = dict(meta_graph.signature_def)
        # Requests holding this version (`acquire` / `release`), and what to call once the
        # last of them ends after the version was unloaded (`retire`).
        self._users = 0
        self._users_lock = threading.Lock()
        self._on_idle = None
        try:
            self.num_warmup_records = self._replay_warmup() if warmup else 0
        except Exception as error:
            self._session.close()
            raise _warmup_error(error, self.path) from error

    def input_dtypes(self, signature_name):
        """Input name -> DataType name of a signature, for the REST path's JSON parsing.

        Raises:
            ServingError: 400 with the message of TF Serving's REST handler (GetInfoMap, then
                FillPredictRequestFromJson), not the predictor's: an unknown signature, or
                one without inputs (``__saved_model_init_op``).
        """
        key = signature_name or "serving_default"
        if key not in self.signature_defs:
            raise ServingError(400, f'Serving signature name: "{key}" not found in signature def')
        inputs = self.signature_defs[key].inputs
        if not inputs:
            raise ServingError(
                400, f"Failed to get input map for signature: {signature_name or 'DEFAULT'}"
            )
        return {k: types_pb2.DataType.Name(v.dtype) for k, v in inputs.items()}

    def predict(self, signature_name, inputs, timeout=None):
        """Runs one signature.

        Args:
            signature_name: str or None (``serving_default``).
            inputs: dict of input name to NumPy array.
            timeout: optional float. Seconds the session run may take; past them TensorFlow
                cancels it (``RunOptions.timeout_in_ms``, as TF Serving passes a request's
                deadline) and the answer is 504.

        Returns:
            dict of output name to NumPy array.

        Raises:
            ServingError: 400 for unknown signatures and inputs or a failed run (with the
                status TF Serving derives from the TensorFlow error code).
        """
        signature = self._signature(signature_name)
        self._verify_inputs(signature, inputs)
        feed = {}
        for alias, info in signature.inputs.items():
            if alias in inputs:
                feed[info.name] = inputs[alias]
            else:
                feed[info.name] = tf.make_ndarray(signature.defaults[alias])
        aliases = sorted(signature.outputs)
        options = None
        if timeout is not None:
            options = tf.compat.v1.RunOptions(timeout_in_ms=max(1, int(timeout * 1000)))
        try:
            values = self._session.run(
                [signature.outputs[a].name for a in aliases], feed, options=options
            )
        except tf.errors.OpError as error:
            code = _canonical_code(type(error).__name__)
            raise ServingError.from_code(code, error.message) from None
        except (ValueError, TypeError) as error:
            raise ServingError(400, str(error)) from None
        return dict(zip(aliases, values, strict=True))

    def metadata(self):
        """The ``metadata`` field of TF Serving's GetModelMetadata answer, as a dict."""
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in self.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        return {
            "signature_def": json_format.MessageToDict(
                signature_map,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
        }

    def close(self):
        """Releases the session."""
        self._session.close()

    def acquire(self):
        """Counts one more request holding this version (see :meth:`retire`); each call
        needs one :meth:`release`."""
        with self._users_lock:
            self._users += 1

    def release(self):
        """Ends a hold of :meth:`acquire`; the last one after :meth:`retire` calls its
        ``on_idle``."""
        with self._users_lock:
            self._users -= 1
            on_idle = self._on_idle if self._users == 0 else None
            if on_idle is not None:
                self._on_idle = None
        if on_idle is not None:
            on_idle(self)

    @property
    def users(self):
        """Requests holding this version now."""
        with self._users_lock:
            return self._users

    def retire(self, on_idle):
        """Marks the version unloaded: ``on_idle(self)`` is called once no request holds it
        (TF Serving reports such a version ``UNLOADING`` until its in-flight requests end).

        Returns:
            bool: True when no request holds it now (``on_idle`` is not called then).
        """
        with self._users_lock:
            if self._users == 0:
                return True
            self._on_idle = on_idle
            return False

    def _signature(self, signature_name):
        key = signature_name or "serving_default"
        if key not in self.signature_defs or key == "__saved_model_init_op":
            raise ServingError(400, f'Serving signature key "{key}" not found.')
        return self.signature_defs[key]

    @staticmethod
    def _verify_inputs(signature, inputs):
        # TF Serving's VerifyRequestInputsSize and saved_model::GetInputValues, message for
        # message.
        expected = set(signature.inputs)
        sent = set(inputs)
        if len(sent) > len(expected) or (len(sent) < len(expected) and not signature.defaults):
            raise ServingError(
                400,
                f"input size does not match signature: {len(sent)}!={len(expected)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
                f"Missing but required: {{{','.join(sorted(expected - sent))}}}.",
            )
        for alias in sorted(expected - sent):
            if alias not in signature.defaults:
                raise ServingError(
                    400,
                    f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name})"
                    f" not found in request and no default value provided. Inputs expected to "
                    f"be in the request {{{','.join(sorted(sent))}}}, or default input alias "
                    f"set: {','.join(sorted(signature.defaults))}",
                )
        if sent - expected:
            raise ServingError(
                400,
                f"Inputs contains invalid name. Used request inputs: "
                f"{','.join(sorted(sent & expected))}, request input: {','.join(sorted(sent))}",
            )

    def _replay_warmup(self):
        path = os.path.join(self.path, standalone_checker.WARMUP_FILE)
        if not os.path.exists(path):
            return 0
        records = standalone_checker.read_warmup_records(self.path)
        if len(records) > standalone_checker.MAX_WARMUP_RECORDS:
            raise ServingError.from_code(
                "INVALID_ARGUMENT",
                "Number of warmup records exceeds the maximum "
                f"({standalone_checker.MAX_WARMUP_RECORDS}) at {path}",
            )
        for log in records:
            request = log.predict_log.request
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            self.predict(request.model_spec.signature_name, inputs)
        logger.info("%s/%s: replayed %d warm-up records", self.name, self.version, len(records))
        return len(records)


def _canonical_code(exception_name):
    # InvalidArgumentError -> INVALID_ARGUMENT
    name = exception_name.removesuffix("Error")
    return "".join("_" + c if c.isupper() and i else c for i, c in enumerate(name)).upper()


# The files TF Serving's SavedModel reader looks for, in its order (tensorflow/cc/saved_model/
# reader.cc ReadSavedModel), with how it parses each.
_SAVED_MODEL_FILES = (("saved_model.pb", "binary"), ("saved_model.pbtxt", "text"))


def _saved_model_file(path):
    """``(file, format)`` of the SavedModel file of the version directory ``path``, as TF
    Serving's reader picks it.

    Raises:
        ServingError: ``NOT_FOUND`` with the reader's message when there is neither.
    """
    for name, kind in _SAVED_MODEL_FILES:
        file = os.path.join(path, name)
        if os.path.exists(file):
            return file, kind
    raise ServingError.from_code(
        "NOT_FOUND",
        f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {path}. "
        "Check that the directory exists and that you have the right permissions for "
        "accessing it.",
    )


def _load_error(error, saved_model_file):
    """The ServingError (canonical code and message) TF Serving's C++ loader fails with where
    the Python loader raised ``error``: the status a failed version reports."""
    if isinstance(error, OSError) and error.errno is None:
        # The Python reader's "Cannot parse file ...": tensorflow's ReadBinaryProto /
        # ReadTextProto say DataLoss.
        file, kind = saved_model_file
        return ServingError.from_code("DATA_LOSS", f"Can't parse {file} as {kind} proto")
    if isinstance(error, RuntimeError) and "could not be found in SavedModel" in str(error):
        return ServingError.from_code(
            "NOT_FOUND",
            "Could not find meta graph def matching supplied tags: { serve }. To inspect "
            "available tag-sets in the SavedModel, please use the SavedModel CLI: "
            "`saved_model_cli`",
        )
    return _status_error(error)


def _warmup_error(error, path):
    """The ServingError TF Serving's warm-up (saved_model_warmup_util.cc) fails with where
    replaying the records of version directory ``path`` raised ``error``."""
    if isinstance(error, DecodeError):
        warmup_file = os.path.join(path, standalone_checker.WARMUP_FILE)
        return ServingError.from_code(
            "INVALID_ARGUMENT", f"Failed to parse warmup record from {warmup_file}"
        )
    return _status_error(error)


def _status_error(error):
    """``error`` as a ServingError: its own code when it has one (a ServingError, a
    TensorFlow error), else the code of its kind, ``UNKNOWN`` when none fits."""
    if isinstance(error, ServingError):
        return error
    if isinstance(error, tf.errors.OpError):
        return ServingError.from_code(_canonical_code(type(error).__name__), error.message)
    if isinstance(error, PermissionError):
        return ServingError.from_code("PERMISSION_DENIED", str(error))
    if isinstance(error, FileNotFoundError):
        return ServingError.from_code("NOT_FOUND", str(error))
    return ServingError.from_code("UNKNOWN", str(error) or type(error).__name__)

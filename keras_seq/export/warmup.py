"""TF Serving warm-up records: ``assets.extra/tf_serving_warmup_requests``.

The file is a TFRecord of ``tensorflow.serving.PredictionLog`` protos that TF Serving replays
when it loads a version (at most 1000 records), so the first real request does not pay for
graph initialization. keras_seq also fills each record's ``predict_log.response`` with the
model's outputs (its traced signature functions): TF Serving ignores that field at warm-up,
and the export checker compares the served outputs with it.
"""

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

WARMUP_FILE_NAME = "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000


def make_predict_log(model_name, signature_name, inputs, outputs=None):
    """Builds one PredictionLog record.

    Args:
        model_name: str. ``model_spec.name`` of the request.
        signature_name: str. Signature the request runs.
        inputs: dict of input name to array-like (strings as ``str`` or ``bytes``).
        outputs: optional dict of output name to array-like: the expected response.

    Returns:
        A ``prediction_log_pb2.PredictionLog``.

    Example:

    >>> log = make_predict_log("m", "serving_default", {"text": ["a b"]})
    >>> log.predict_log.request.model_spec.signature_name
    'serving_default'
    """
    if not isinstance(inputs, dict) or not inputs:
        raise TypeError(f"inputs must be a non-empty dict of name to array, got {inputs!r}")
    log = prediction_log_pb2.PredictionLog()
    request = log.predict_log.request
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(_as_array(value)))
    for name, value in (outputs or {}).items():
        log.predict_log.response.outputs[name].CopyFrom(tf.make_tensor_proto(_as_array(value)))
    return log


def write_warmup_requests(path, logs):
    """Writes PredictionLog records as a TFRecord file.

    Args:
        path: str. Destination, normally ``<version>/assets.extra/tf_serving_warmup_requests``.
        logs: list of ``PredictionLog``.

    Raises:
        ValueError: no record, or more than TF Serving's limit of 1000.
    """
    if not logs or len(logs) > MAX_WARMUP_RECORDS:
        raise ValueError(f"a warm-up file holds 1 to {MAX_WARMUP_RECORDS} records, got {len(logs)}")
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


def read_warmup_requests(path):
    """Reads the PredictionLog records of a warm-up file.

    Args:
        path: str. A ``tf_serving_warmup_requests`` file.

    Returns:
        A list of ``prediction_log_pb2.PredictionLog``.
    """
    logs = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw)
        logs.append(log)
    return logs


def _as_array(value):
    if isinstance(value, tf.Tensor):
        return value.numpy()
    array = np.asarray(value)
    if array.dtype.kind in "SU" and not isinstance(value, np.ndarray):
        # Fixed-width NumPy strings drop trailing NUL bytes: keep Python bytes objects.
        array = np.array(_encode(value), dtype=object)
    elif array.dtype.kind == "U":
        array = np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])(array)
    return array


def _encode(value):
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value.encode("utf-8") if isinstance(value, str) else value

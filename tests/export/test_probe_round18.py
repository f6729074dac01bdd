"""Round 18 of the export probes: the checker's verdicts on exports TF Serving's REST API
could not serve, and on served integers that differ from the recorded ones."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from keras_seq.export import check_export, export, read_warmup_requests
from keras_seq.export.standalone_checker import WARMUP_FILE, static_problems
from tests.export.toy_models import make_classifier


def _meta_graph(inputs, outputs):
    """A `serve` MetaGraphDef with one predict signature of the given {name: DataType}."""
    meta_graph = meta_graph_pb2.MetaGraphDef()
    meta_graph.meta_info_def.tags.append("serve")
    signature = meta_graph.signature_def["serving_default"]
    signature.method_name = "tensorflow/serving/predict"
    for kind, tensors in ((signature.inputs, inputs), (signature.outputs, outputs)):
        for index, (name, dtype) in enumerate(tensors.items()):
            kind[name].name = f"{name}_{index}:0"
            kind[name].dtype = dtype
            kind[name].tensor_shape.dim.add(size=-1)
    return meta_graph


def test_uint16_inputs_and_outputs_are_not_servable_over_rest():
    # TF Serving reads no uint16 from JSON (Unimplemented) and writes none ("Failed to write
    # JSON value for tensor type: uint16"): the checker passed both.
    problems = static_problems(
        _meta_graph({"text": types_pb2.DT_STRING}, {"codes": types_pb2.DT_UINT16})
    )
    assert problems == [
        "signature 'serving_default' output 'codes' has dtype DT_UINT16, which the REST API "
        "cannot carry"
    ]
    problems = static_problems(
        _meta_graph({"levels": types_pb2.DT_UINT16}, {"x": types_pb2.DT_FLOAT})
    )
    assert problems == [
        "signature 'serving_default' input 'levels' has dtype DT_UINT16, which the REST API "
        "cannot carry"
    ]
    # uint8 and uint32 are TF Serving's JSON dtypes.
    meta_graph = _meta_graph(
        {"a": types_pb2.DT_UINT8, "b": types_pb2.DT_UINT32}, {"c": types_pb2.DT_UINT64}
    )
    assert static_problems(meta_graph) == []


def test_a_signature_without_inputs_is_not_servable_over_rest():
    # FillPredictRequestFromJson: "Failed to get input map for signature", every request.
    problems = static_problems(_meta_graph({}, {"now": types_pb2.DT_FLOAT}))
    assert problems == [
        "signature 'serving_default' has no inputs; TF Serving's REST API answers every "
        "request to it 400 'Failed to get input map for signature: serving_default'"
    ]


@pytest.fixture(scope="module")
def toy_export(tmp_path_factory):
    return export(make_classifier(seed=0), tmp_path_factory.mktemp("models"), name="toy")


def _with_recorded_token_count(version_dir, tmp_path, token_count):
    """A copy of ``version_dir`` whose `normalize` record expects ``token_count``."""
    copy = shutil.copytree(version_dir, tmp_path / "toy" / "1")
    path = os.path.join(copy, WARMUP_FILE)
    logs = read_warmup_requests(path)
    (log,) = [
        log for log in logs if log.predict_log.request.model_spec.signature_name == "normalize"
    ]
    outputs = log.predict_log.response.outputs
    served = tf.make_ndarray(outputs["token_count"])
    outputs["token_count"].CopyFrom(tf.make_tensor_proto(np.asarray(token_count, np.int64)))
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return copy, served


def test_integer_outputs_are_compared_exactly_whatever_the_tolerance(toy_export, tmp_path):
    """A served count of 5 where 6 was recorded failed only below rtol 0.2: the tolerance for
    floats (raised for a noisy output, or 1e-2 in a bfloat16 graph) let integers differ."""
    copy, served = _with_recorded_token_count(toy_export, tmp_path, [3, 6, 0])
    assert served.tolist() == [3, 5, 0]  # "the cat sat", "a dog on the mat", ""
    result = check_export(copy, rtol=0.5)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "warm-up record 1 ('normalize'): output 'token_count': 1 of 3 integer values differ "
        "from the recorded outputs (integers and booleans are compared exactly)"
    ) in result.stdout

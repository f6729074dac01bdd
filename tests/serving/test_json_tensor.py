import json

import numpy as np
import pytest

from keras_seq.serving import ServingError
from keras_seq.serving.json_tensor import format_predict_response, parse_predict_request


def _dtypes(mapping):
    return lambda signature_name: mapping


def test_columnar_floats_are_written_as_tf_serving_writes_them_with_bare_nan_and_infinity():
    values = np.array([0.1, 1 / 3, np.nan, np.inf, -np.inf, 1e-8], np.float32)
    text = format_predict_response({"scores": values}, row_format=False)
    # WriteDecimal: six digits when they round-trip (0.1, 1e-08), else 9 for float32.
    assert text == ('{"outputs": [0.1, 0.333333343, NaN, Infinity, -Infinity, 1e-08]}')
    decoded = np.array(json.loads(text)["outputs"], np.float32)
    np.testing.assert_array_equal(decoded, values)  # every float32 round-trips exactly


def test_row_format_splits_every_output_along_the_batch():
    outputs = {
        "label": np.array([b"pos", b"neg"], object),
        "ids": np.array([[1, 2], [3, 2**40]], np.int64),
        "flag": np.array([True, False]),
        "raw_bytes": np.array([b"\xff\x00", b"ok"], object),
    }
    decoded = json.loads(format_predict_response(outputs, row_format=True))
    assert decoded == {
        "predictions": [
            {"flag": True, "ids": [1, 2], "label": "pos", "raw_bytes": {"b64": "/wA="}},
            {"flag": False, "ids": [3, 2**40], "label": "neg", "raw_bytes": {"b64": "b2s="}},
        ]
    }
    single = json.loads(format_predict_response({"y": np.array([[1.5], [2.5]])}, True))
    assert single == {"predictions": [[1.5], [2.5]]}


def test_invalid_utf8_in_a_text_output_is_replaced_so_the_body_parses():
    # TF Serving would copy the raw bytes (invalid JSON); `_bytes` outputs keep them exactly.
    outputs = {"text": np.array([b"ok \xff\xfe end"], object)}
    body = format_predict_response(outputs, row_format=False)
    assert json.loads(body.encode("utf-8")) == {"outputs": ["ok \ufffd\ufffd end"]}
    exact = format_predict_response({"text_bytes": outputs["text"]}, row_format=False)
    assert json.loads(exact) == {"outputs": [{"b64": "b2sg//4gZW5k"}]}


def test_row_format_rejects_inconsistent_batch():
    outputs = {"a": np.zeros([2]), "b": np.zeros([3])}
    with pytest.raises(ServingError, match="inconsistent batch size: 3 expecting: 2") as info:
        format_predict_response(outputs, row_format=True)
    assert info.value.status_code == 400


def test_parse_row_and_columnar_give_the_same_tensors():
    dtypes = _dtypes({"text": "DT_STRING", "weights": "DT_FLOAT"})
    row = json.dumps(
        {
            "signature_name": "s",
            "instances": [
                {"text": "a b", "weights": [1, 2.5]},
                {"text": {"b64": "/w=="}, "weights": [3, 4]},
            ],
        }
    )
    columnar = json.dumps(
        {"inputs": {"text": ["a b", {"b64": "/w=="}], "weights": [[1, 2.5], [3, 4]]}}
    )
    name, row_inputs, is_row = parse_predict_request(row, dtypes)
    assert (name, is_row) == ("s", True)
    name, columnar_inputs, is_row = parse_predict_request(columnar, dtypes)
    assert (name, is_row) == (None, False)
    for inputs in (row_inputs, columnar_inputs):
        assert inputs["text"].dtype == object
        assert inputs["text"].tolist() == [b"a b", b"\xff"]
        assert inputs["weights"].dtype == np.float32
        np.testing.assert_array_equal(inputs["weights"], [[1, 2.5], [3, 4]])


@pytest.mark.parametrize(
    "body, dtype, message",
    [
        ('{"inputs": [[1, 2], [3]]}', "DT_INT32", "Expecting tensor size: 2 but got: 1"),
        ('{"inputs": [1, [2]]}', "DT_INT32", "ragged"),
        ('{"inputs": [3000000000]}', "DT_INT32", "out of range for int32"),
        ('{"inputs": [1.5]}', "DT_INT64", "not of expected type: int64"),
        # Integers a float cannot hold exactly would be rounded: 16777217 -> 16777216.0.
        ('{"inputs": [16777217]}', "DT_FLOAT", "16777217 to float without loss of precision"),
        ('{"inputs": [-16777216]}', "DT_FLOAT", "-16777216 to float without loss"),
        ('{"inputs": [9007199254740993]}', "DT_DOUBLE", "to double without loss of precision"),
        ('{"inputs": [true]}', "DT_FLOAT", "not of expected type: float"),
        ('{"inputs": [1]}', "DT_BOOL", "not of expected type: bool"),
        ('{"inputs": [1]}', "DT_COMPLEX64", "JSON cannot carry"),
        ('{"inputs": ["a"], "signature_name": 3}', "DT_STRING", "must be a string"),
    ],
)
def test_parse_errors_are_400(body, dtype, message):
    with pytest.raises(ServingError, match=message) as info:
        parse_predict_request(body, _dtypes({"x": dtype}))
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    "body, dtype, message",
    [
        ("[" * 100_000, "DT_STRING", "nested too deeply"),
        ('{"inputs": ' + "[" * 100_000, "DT_STRING", "nested too deeply"),
        ('{"inputs": ' + "[" * 33 + '"a"' + "]" * 33 + "}", "DT_STRING", "deeper than 32"),
        ('{"inputs": ["\\ud800"]}', "DT_STRING", "invalid surrogate pair"),
        ('{"inputs": [' + "9" * 400 + "]}", "DT_FLOAT", "out of range for float"),
        ('{"inputs": [1e39]}', "DT_FLOAT", "out of range for float"),
        ('{"inputs": [-1e39]}', "DT_FLOAT", "out of range for float"),
        ('{"inputs": [' + "9" * 400 + "]}", "DT_DOUBLE", "out of range for double"),
        ('{"inputs": [' + "1" * 5000 + "]}", "DT_INT64", "JSON Parse error"),
        # Past the double range: Python's parser would make these Infinity.
        ('{"inputs": [1e400]}', "DT_FLOAT", "too big to be stored in double: 1e400"),
        ('{"inputs": [-2e308]}', "DT_DOUBLE", "too big to be stored in double: -2e308"),
        (b'{"inputs": ["\xff\xfe"]}', "DT_STRING", "JSON Parse error"),
    ],
)
def test_hostile_bodies_are_400_not_crashes(body, dtype, message):
    with pytest.raises(ServingError, match=message) as info:
        parse_predict_request(body, _dtypes({"x": dtype}))
    assert info.value.status_code == 400


def test_rank_limit_is_inclusive_and_nan_infinity_reach_floats():
    deepest = '{"inputs": ' + "[" * 32 + "1.5" + "]" * 32 + "}"
    _, inputs, _ = parse_predict_request(deepest, _dtypes({"x": "DT_FLOAT"}))
    assert inputs["x"].shape == (1,) * 32
    _, inputs, _ = parse_predict_request(
        '{"inputs": [NaN, Infinity, -Infinity, 3.4028234e38]}', _dtypes({"x": "DT_FLOAT"})
    )
    np.testing.assert_array_equal(
        inputs["x"], np.array([np.nan, np.inf, -np.inf, np.finfo(np.float32).max], np.float32)
    )
    _, inputs, _ = parse_predict_request(
        '{"inputs": [1.7976931348623157e308, -1.7976931348623157e308, 1e-400]}',
        _dtypes({"x": "DT_DOUBLE"}),
    )
    largest = np.finfo(np.float64).max
    np.testing.assert_array_equal(inputs["x"], np.array([largest, -largest, 0.0]))
    # The largest integers each float type takes (TF Serving's limits: 2**digits - 1).
    _, inputs, _ = parse_predict_request(
        '{"inputs": [16777215, -16777215]}', _dtypes({"x": "DT_FLOAT"})
    )
    assert inputs["x"].tolist() == [16777215.0, -16777215.0]
    _, inputs, _ = parse_predict_request(
        '{"inputs": [9007199254740991]}', _dtypes({"x": "DT_DOUBLE"})
    )
    assert inputs["x"].tolist() == [9007199254740991.0]


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"instances": ["a", "b", "c"]}', "'instances' has 3 rows, more than this server's "),
        ('{"inputs": ["a", "b", "c"]}', "'inputs' has 3 rows"),
        ('{"inputs": {"x": ["a", "b", "c"]}}', "Input 'x' has 3 rows"),
        ('{"instances": ["abcde"]}', "A string of input 'x' has 5 bytes, more than"),
        ('{"instances": [{"b64": "YWJjZGU="}]}', "has 5 bytes"),
        ('{"inputs": {"x": [["ab", "\\u00e9\\u00e9\\u00e9"]]}}', "has 6 bytes"),
    ],
)
def test_batch_and_string_limits(body, message):
    dtypes = _dtypes({"x": "DT_STRING"})
    with pytest.raises(ServingError, match=message) as info:
        parse_predict_request(body, dtypes, max_batch_size=2, max_string_bytes=4)
    assert info.value.status_code == 400
    # At the limits exactly, and without limits, the same shapes parse.
    _, inputs, _ = parse_predict_request('{"instances": ["ab", "abcd"]}', dtypes, 2, 4)
    assert inputs["x"].tolist() == [b"ab", b"abcd"]
    _, inputs, _ = parse_predict_request(body, dtypes)
    assert inputs["x"].size >= 1

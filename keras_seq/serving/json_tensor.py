"""TF Serving's JSON <-> tensor rules for ``:predict`` (row and columnar formats).

Follows tensorflow_serving/util/json_tensor.cc: ``instances`` (row format, one element per
batch row, objects keyed by input name when they name inputs) or ``inputs`` (columnar, a
tensor or an object of tensors), never both; ``{"b64": ...}`` for string values; outputs whose
name ends in ``_bytes`` written as ``{"b64": ...}``; floats written as TF Serving's WriteDecimal
writes them (six significant digits when they round-trip, else 9 for float and 17 for double),
with ``NaN`` / ``Infinity`` as bare tokens.

Numbers are read as TF Serving's parser (RapidJSON with ``kParseNanAndInfFlag``) reads them:
the bare tokens ``NaN``, ``Infinity``, ``-Infinity``, ``Inf``, ``-Inf`` and ``-NaN`` are
float values.

Every signature input must be in the request, those with a default value included, as TF
Serving's JSON layer wants them (the defaults apply to gRPC requests only): an ``instances``
object has exactly the input names, an ``inputs`` object all of them (other keys of an
``inputs`` object are ignored, as there).

Every malformed body is a 400 with a message, never an exception of another kind: JSON nested
too deeply for the parser, lone UTF-16 surrogates (``"\\ud800"``, which UTF-8 cannot carry),
tensors of more than ``MAX_RANK`` dimensions, numbers out of the input's range, literals past
the double range (``1e400``) and integers a float input would round (as TF Serving: above
``2**24 - 1`` for float, ``2**53 - 1`` for double) included. As in TF Serving, whose parser
(RapidJSON) reads an integer literal past the int64 and uint64 ranges as a double, such a
literal (``100000000000000000000``, at least ``2**64``) is a number a float input takes
(``1e20``) and an integer input refuses.
Optional limits refuse batches of more than ``max_batch_size`` rows and string values longer
than ``max_string_bytes`` before any tensor is built.
"""

import base64
import binascii
import contextlib
import json
import math
import re

import numpy as np

from keras_seq.serving.serving_error import ServingError

# The input dtypes TF Serving's AddValueToTensor reads from JSON: not DT_UINT16 (nor half,
# bfloat16...), for which it answers "Unimplemented: Conversion of JSON Value ... to type".
_NUMPY_DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_INT8": np.int8,
    "DT_INT16": np.int16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT8": np.uint8,
    "DT_UINT32": np.uint32,
    "DT_UINT64": np.uint64,
    "DT_BOOL": np.bool_,
    "DT_STRING": object,
}
_FLOAT_MAX = {
    "DT_FLOAT": float(np.finfo(np.float32).max),
    "DT_DOUBLE": float(np.finfo(np.float64).max),
}
# Largest JSON integer a float input takes (TF Serving's IsLosslessDecimal: 2**digits - 1);
# a larger one, such as an id or a timestamp, would be rounded. This holds for the integers
# RapidJSON keeps as integers, those int64 or uint64 holds; a longer literal is a double there
# (see `_leaf`), which a float input takes.
_FLOAT_MAX_INTEGER = {"DT_FLOAT": 2**24 - 1, "DT_DOUBLE": 2**53 - 1}
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1

# Deeper JSON arrays are refused (NumPy allows 64 dimensions, TensorFlow 254); real inputs
# have a few.
MAX_RANK = 32


def _invalid(message):
    return ServingError(400, message)


def parse_predict_request(body, input_dtypes_for, max_batch_size=None, max_string_bytes=None):
    """Parses a ``:predict`` body into input arrays.

    Args:
        body: bytes or str. The request body.
        input_dtypes_for: callable taking the request's ``signature_name`` (None for the
            default) and returning a dict of input name to DataType name (``"DT_STRING"``...).
        max_batch_size: optional int. Most rows per request: the length of ``instances``, or
            of each list given in ``inputs``; more is a 400.
        max_string_bytes: optional int. Most UTF-8 (or base64-decoded) bytes per string
            value; longer is a 400.

    Returns:
        (signature_name or None, dict of input name to NumPy array, row_format bool)

    Raises:
        ServingError: 400 with TF Serving's message for malformed requests.
    """
    if not body:  # TF Serving's ParseJson says so before parsing
        raise _invalid("JSON Parse error: The document is empty")
    request = _parse_json(_utf8_text(body))
    if not isinstance(request, dict):
        raise _invalid(f"JSON Value: {_short(request)} Is not object")
    signature_name = request.get("signature_name")
    if "signature_name" in request and not isinstance(signature_name, str):
        # null included: TF Serving (FillSignature) refuses any present non-string value.
        raise _invalid(f"'signature_name' key must be a string value. Got {_short(signature_name)}")
    # As FillPredictRequestFromJson: the signature is looked up before the body's keys.
    input_dtypes = input_dtypes_for(signature_name)
    if not input_dtypes:
        # A signature without inputs: TF Serving's REST layer refuses every request to it.
        raise _invalid(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances and has_inputs:
        raise _invalid(
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys exist"
        )
    if not (has_instances or has_inputs):
        raise _invalid("Missing 'inputs' or 'instances' key")
    limits = _Limits(max_batch_size, max_string_bytes)
    if has_instances:
        return signature_name, _parse_instances(request["instances"], input_dtypes, limits), True
    return signature_name, _parse_inputs(request["inputs"], input_dtypes, limits), False


def _utf8_text(body):
    """The body as text: UTF-8, after an optional byte order mark, as TF Serving's parser
    reads it (rapidjson over a UTF-8 stream). ``json.loads`` on bytes would also take
    UTF-16 and UTF-32 bodies, which TF Serving refuses."""
    if isinstance(body, str):
        return body
    body = bytes(body)
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid(
            f"JSON Parse error: Invalid encoding in string. at offset: {error.start} "
            f"(the body must be UTF-8: {error.reason})"
        ) from None


# What RapidJSON's kParseNanAndInfFlag (TF Serving's parser) reads beyond Python's NaN,
# Infinity and -Infinity: Inf, -Inf and -NaN. Strings come first so that none is looked for
# inside one (the unrolled form does not backtrack).
_RAPIDJSON_CONSTANTS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|(-?)Inf(?:inity)?|-NaN')


def _rapidjson_constant(match):
    token = match.group()
    if token.startswith('"'):
        return token
    return "NaN" if token == "-NaN" else match.group(1) + "Infinity"


def _parse_json(text):
    def parse(text):
        return json.loads(text, parse_float=_parse_float, object_pairs_hook=_first_key_wins)

    try:
        try:
            return parse(text)
        except ValueError as error:
            # Only a body that failed to parse is searched for RapidJSON's other constants;
            # if the body still fails with them written as Python reads them, the first error
            # is the one reported.
            spelled = _RAPIDJSON_CONSTANTS.sub(_rapidjson_constant, text)
            if spelled == text:
                raise
            try:
                return parse(spelled)
            except ValueError:
                raise error from None
    except RecursionError:
        raise _invalid("JSON Parse error: the document is nested too deeply") from None
    except ValueError as error:
        raise _invalid(f"JSON Parse error: {error}") from None


def _first_key_wins(pairs):
    # A key given twice: TF Serving's rapidjson FindMember reads the first; json.loads
    # would keep the last.
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


def _parse_float(text):
    # Python's parser turns a literal past the double range (1e400) into Infinity; TF
    # Serving's rapidjson refuses it ("Number too big to be stored in double"). The bare
    # tokens NaN and Infinity do not come here.
    value = float(text)
    if math.isinf(value):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(f"Number too big to be stored in double: {shown}")
    return value


class _Limits:
    def __init__(self, max_batch_size, max_string_bytes):
        self.max_batch_size = max_batch_size
        self.max_string_bytes = max_string_bytes

    def check_batch(self, size, where):
        if self.max_batch_size is not None and size > self.max_batch_size:
            raise _invalid(
                f"{where} has {size} rows, more than this server's max_batch_size of "
                f"{self.max_batch_size}; split the request"
            )

    def check_string(self, value, input_name):
        if self.max_string_bytes is not None and len(value) > self.max_string_bytes:
            raise _invalid(
                f"A string of input '{input_name}' has {len(value)} bytes, more than this "
                f"server's max_string_bytes of {self.max_string_bytes}"
            )
        return value


def _is_named(value):
    return isinstance(value, dict) and not _is_b64(value)


def _is_b64(value):
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _parse_instances(instances, input_dtypes, limits):
    if not isinstance(instances, list):
        raise _invalid(f"Expecting 'instances' to be an list/array. Got {_short(instances)}")
    if not instances:
        raise _invalid("'instances' is an empty list: no valid instance found")
    limits.check_batch(len(instances), "'instances'")
    if not _is_named(instances[0]):
        if len(input_dtypes) != 1:
            raise _invalid(
                f"Expecting object with {len(input_dtypes)} keys (the inputs "
                f"{sorted(input_dtypes)}) in each instance, got {_short(instances[0])}"
            )
        (name,) = input_dtypes
        return {name: _to_array(instances, input_dtypes[name], name, limits)}
    keys = set(instances[0])
    for index, instance in enumerate(instances):
        if not _is_named(instance) or set(instance) != keys:
            raise _invalid(
                f"Expecting object with keys {sorted(keys)} in instance {index}, "
                f"got {_short(instance)}"
            )
    arrays = {}
    for name in sorted(keys):
        if name not in input_dtypes:
            raise _invalid(
                f"Input name '{name}' is not in the signature inputs {sorted(input_dtypes)}"
            )
        arrays[name] = _to_array([i[name] for i in instances], input_dtypes[name], name, limits)
    if keys != set(input_dtypes):
        # TF Serving's JSON layer (json_tensor.cc) wants every input in every instance, those
        # with a default value included: the defaults apply to gRPC requests only.
        raise _invalid(
            f"Failed to process element: 0 of 'instances' list. JSON object: "
            f"{_short(instances[0])} keys must be equal to: {','.join(sorted(input_dtypes))}"
        )
    return arrays


def _parse_inputs(inputs, input_dtypes, limits):
    if _is_named(inputs):
        # As TF Serving's FillTensorMapFromInputsMap: the signature's inputs are looked up
        # in the object and any other key is ignored (it reaches no tensor), unlike a key of
        # an `instances` object, which is an error there and here.
        missing = sorted(set(input_dtypes) - set(inputs))
        if missing:
            # As TF Serving's JSON layer: every input, those with a default value included.
            raise _invalid(f"Missing named input: {missing[0]} in 'inputs' object.")
        arrays = {}
        for name, value in inputs.items():
            if name not in input_dtypes:
                continue
            if isinstance(value, list):
                limits.check_batch(len(value), f"Input '{name}'")
            arrays[name] = _to_array(value, input_dtypes[name], name, limits)
        return arrays
    if len(input_dtypes) != 1:
        raise _invalid(
            f"Expecting 'inputs' to be an object with the keys {sorted(input_dtypes)}, "
            f"got {_short(inputs)}"
        )
    (name,) = input_dtypes
    if isinstance(inputs, list):
        limits.check_batch(len(inputs), "'inputs'")
    return {name: _to_array(inputs, input_dtypes[name], name, limits)}


def _to_array(value, dtype_name, input_name, limits):
    if dtype_name not in _NUMPY_DTYPES:
        raise _invalid(f"Input '{input_name}' has dtype {dtype_name}, which JSON cannot carry")
    shape = []
    flat = []
    _flatten(value, (dtype_name, input_name, limits), 0, shape, flat)
    dtype = _NUMPY_DTYPES[dtype_name]
    array = np.empty(len(flat), dtype=dtype)
    if flat:
        array[:] = flat
    return array.reshape(shape)


def _flatten(value, leaf_spec, depth, shape, flat):
    """Walks nested lists depth-first; ``shape`` is fixed by the first path to a leaf."""
    _, input_name, _ = leaf_spec
    if isinstance(value, list):
        if depth == MAX_RANK:
            raise _invalid(
                f"Input '{input_name}' is nested deeper than {MAX_RANK} levels "
                f"(tensors of this server have at most {MAX_RANK} dimensions)"
            )
        if depth == len(shape):
            if flat:  # a leaf was already seen at a shallower depth
                raise _ragged(input_name)
            shape.append(len(value))
        elif shape[depth] != len(value):
            raise _invalid(
                f"Expecting tensor size: {shape[depth]} but got: {len(value)} at depth {depth} "
                f"of input '{input_name}' (all rows must have the same shape)"
            )
        for item in value:
            _flatten(item, leaf_spec, depth + 1, shape, flat)
        return
    if depth != len(shape):
        raise _ragged(input_name)
    flat.append(_leaf(value, *leaf_spec))


def _ragged(input_name):
    return _invalid(
        f"Input '{input_name}' is ragged: values and lists mixed at the same depth "
        "(all rows must have the same shape)"
    )


def _leaf(value, dtype_name, input_name, limits):
    def type_error():
        return _invalid(
            f"JSON Value: {_short(value)} Type: {type(value).__name__} is not of expected "
            f"type: {dtype_name[3:].lower()} (input '{input_name}')"
        )

    if dtype_name == "DT_STRING":
        if isinstance(value, str):
            try:
                return limits.check_string(value.encode("utf-8"), input_name)
            except UnicodeEncodeError:
                # A lone surrogate such as "\ud800" is valid JSON escaping but not text.
                raise _invalid(
                    f"JSON Parse error: input '{input_name}' holds an invalid surrogate pair "
                    f"{_short(value)}"
                ) from None
        if _is_b64(value) and isinstance(value["b64"], str):
            decoded = _b64decode(value["b64"])
            if decoded is None:
                raise _invalid(f"Unable to base64 decode {_short(value)}")
            return limits.check_string(decoded, input_name)
        raise type_error()
    if dtype_name == "DT_BOOL":
        if isinstance(value, bool):
            return value
        raise type_error()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise type_error()
    if isinstance(value, int) and not _INT64_MIN <= value <= _UINT64_MAX:
        # RapidJSON, TF Serving's parser, keeps an integer literal that neither int64 nor
        # uint64 holds as a double: a float input takes 100000000000000000000 as 1e20 (an
        # integer input refuses it as not an integer). One past the double range stays an
        # int here, and is refused below as out of range.
        with contextlib.suppress(OverflowError):
            value = float(value)
    if dtype_name in _FLOAT_MAX:
        # NaN and +-Infinity are accepted; a finite number the dtype cannot hold is not.
        finite = isinstance(value, int) or math.isfinite(value)  # no float(10**400)
        if finite and abs(value) > _FLOAT_MAX[dtype_name]:
            raise _invalid(f"JSON Value: {_short(value)} out of range for {dtype_name[3:].lower()}")
        if isinstance(value, int) and abs(value) > _FLOAT_MAX_INTEGER[dtype_name]:
            raise _invalid(
                f"Cannot convert JSON value: {_short(value)} to {dtype_name[3:].lower()} "
                f"without loss of precision (input '{input_name}')"
            )
        return value
    if isinstance(value, float):
        raise type_error()
    info = np.iinfo(_NUMPY_DTYPES[dtype_name])
    if not info.min <= value <= info.max:
        raise _invalid(f"JSON Value: {value} out of range for {dtype_name[3:].lower()}")
    return value


# absl::ascii_isspace, which absl::Base64Unescape skips.
_ASCII_SPACE = b" \t\n\v\f\r"


def _b64decode(text):
    """Decodes a ``{"b64": ...}`` value as TF Serving's ``absl::Base64Unescape`` does, or
    None when it would refuse it.

    absl is laxer than ``base64.b64decode(validate=True)``: it skips ASCII whitespace (the
    line breaks of ``base64.encodebytes``, Java's MIME encoder or the ``base64`` command),
    takes the padding as optional (Go's ``RawStdEncoding``, many JavaScript encoders) and
    reads ``.`` as ``=``; padding, when present, must still be the right amount. A value TF
    Serving decodes must not be a 400 here.
    """
    try:
        data = text.encode("ascii").translate(None, _ASCII_SPACE)
    except UnicodeEncodeError:
        return None
    stripped = data.rstrip(b"=.")
    remainder = len(stripped) % 4
    padding = len(data) - len(stripped)
    if remainder == 1 or (padding and padding != -len(stripped) % 4):
        return None
    try:
        # The characters left must all be of the standard alphabet ("=" inside is refused).
        return base64.b64decode(stripped + b"=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def format_predict_response(outputs, row_format):
    """Writes a ``:predict`` response body.

    Args:
        outputs: dict of output name to NumPy array (all leading with the batch dimension
            in row format).
        row_format: bool. ``{"predictions": ...}`` (row) or ``{"outputs": ...}`` (columnar).

    Returns:
        The JSON text.

    Raises:
        ServingError: 400 when, in row format, an output has no batch dimension or a batch
            of 0 rows, or outputs disagree on the batch size; 400 for an output of a dtype
            TF Serving does not write (half, bfloat16, uint16, complex...).
    """
    names = sorted(outputs)
    if not row_format:
        for name in names:
            _check_writable(name, outputs[name])
        if len(names) == 1:
            return '{"outputs": ' + _tensor_json(outputs[names[0]], names[0]) + "}"
        fields = ", ".join(f"{json.dumps(n)}: {_tensor_json(outputs[n], n)}" for n in names)
        return '{"outputs": {' + fields + "}}"
    batch = None
    for name in names:
        value = outputs[name]
        if value.ndim == 0:
            raise _invalid(f"Tensor name: {name} has no shape information (not batched)")
        if value.shape[0] < 1:
            # As MakeRowFormatJsonFromTensors: no rows is an error, not "predictions": [].
            raise _invalid(f"Tensor name: {name} has invalid batch size: {value.shape[0]}")
        if batch is None:
            batch = value.shape[0]
        elif value.shape[0] != batch:
            raise _invalid(
                f"Tensor name: {name} has inconsistent batch size: {value.shape[0]} "
                f"expecting: {batch}"
            )
    for name in names:
        _check_writable(name, outputs[name])
    rows = []
    for index in range(batch or 0):
        if len(names) == 1:
            rows.append(_tensor_json(outputs[names[0]][index], names[0]))
        else:
            fields = ", ".join(
                f"{json.dumps(n)}: {_tensor_json(outputs[n][index], n)}" for n in names
            )
            rows.append("{" + fields + "}")
    return '{"predictions": [' + ", ".join(rows) + "]}"


# The dtypes TF Serving's AddSingleValueAndAdvance (json_tensor.cc) writes, strings aside.
_WRITABLE_DTYPES = {
    np.dtype(t)
    for t in (np.float32, np.float64, np.int8, np.int16, np.int32, np.int64)
    + (np.uint8, np.uint32, np.uint64, np.bool_)
}


def _check_writable(name, value):
    """400 for an output TF Serving cannot write to JSON (half, bfloat16, uint16, complex...),
    as there ("Failed to write JSON value for tensor type: half"), once it holds a value: a
    model exported with such an output would answer here and fail under TF Serving."""
    array = np.asarray(value)
    if array.dtype.kind in "OSU" or array.dtype in _WRITABLE_DTYPES or array.size == 0:
        return
    type_name = {"float16": "half"}.get(array.dtype.name, array.dtype.name)
    raise _invalid(f"Failed to write JSON value for tensor type: {type_name}")


def _tensor_json(value, name):
    as_b64 = name.endswith("_bytes")
    if isinstance(value, (bytes, str)):
        # Elements of object arrays; np.asarray would make them fixed-width and drop
        # trailing NUL bytes.
        return _scalar_json(value, None, as_b64)
    value = np.asarray(value)
    if value.ndim == 0:
        return _scalar_json(value.item() if value.dtype != object else value[()], value, as_b64)
    return "[" + ", ".join(_tensor_json(v, name) for v in value) + "]"


def _scalar_json(item, array, as_b64):
    if isinstance(item, bytes):
        if as_b64:
            return '{"b64": "' + base64.b64encode(item).decode("ascii") + '"}'
        # TF Serving copies invalid UTF-8 into the body unchanged (invalid JSON to strict
        # parsers); U+FFFD keeps the answer parseable (docs/serving.md, "Binary strings").
        return json.dumps(item.decode("utf-8", errors="replace"))
    if isinstance(item, str):
        return json.dumps(item)
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if math.isnan(item):
        return "NaN"
    if math.isinf(item):
        return "Infinity" if item > 0 else "-Infinity"
    return _decimal_json(float(item), array.dtype == np.float32)


def _decimal_json(value, float32):
    """A finite float as TF Serving's WriteDecimal (json_tensor.cc) writes it: absl::StrCat's
    six significant digits (``%g``) when they read back as the same float (or double), else
    ``max_digits10`` of them (9 for float, 17 for double); ``.0`` appended to a number with
    neither a point nor an exponent. Not the shortest round-trip form: TF Serving writes the
    float32 0.33333334 as ``0.333333343``, which a JSON reader takes as another double."""
    text = f"{value:.6g}"
    back = float(text)
    if float32:
        back = float(np.float32(back))
    if back != value:
        text = f"{value:.{9 if float32 else 17}g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _short(value):
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."

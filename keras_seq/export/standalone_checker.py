"""Proves that an export serves the way TF Serving serves it, in a process without Keras.

Run as a script (``python standalone_checker.py BASE_DIR [BASE_DIR ...] [--model_config_file F]``,
or ``keras-seq check-export``). This file imports nothing of keras_seq: only the standard
library, NumPy, TensorFlow, the kernels of tensorflow-text and the tensorflow-serving-api protos.

What it checks, for every all-digit version directory (or a single version directory):

1. Static, on ``saved_model.pb``: a ``serve`` MetaGraph; every op (graph and function
   library) is a stock TensorFlow op or a ``TFText>`` op, never ``PyFunc``/``EagerPyFunc``;
   no function or call carries ``_XlaMustCompile`` (``jit_compile=True``); every signature
   has method ``tensorflow/serving/predict``, at least one input, dense inputs and outputs (a
   TensorInfo with a tensor name, not a ragged/sparse composite) of a dtype TF Serving's JSON
   codec carries (not uint16), and every output and every input without a default leads
   with an unknown (batch) dimension.
2. Dynamic, the way the C++ server runs it: the version is loaded into a TF1 session with
   ``tf.compat.v1.saved_model.loader.load`` and each record of
   ``assets.extra/tf_serving_warmup_requests`` (at most 1000 PredictionLog protos) is fed by
   the signature's tensor names, missing inputs taken from ``SignatureDef.defaults`` as
   TF Serving does. Every output must share the batch dimension of the request, and when a
   record carries a ``predict_log.response`` (keras_seq's exporter stores the model's
   outputs there; TF Serving ignores that field at warm-up), the outputs must equal it
   (strings, integers and booleans exactly, floating-point numbers within a tolerance,
   wider for a graph computing in bfloat16/float16).
   Every signature must be exercised by at least one record.
3. ``--model_config_file``: parses into ``ModelServerConfig`` (text format).

Keras stays out of the process: ``import tensorflow`` itself imports ``keras.src.optimizers``
when Keras is installed and ``import tensorflow_text`` needs ``tf.keras``, so the script blocks
the ``keras``, ``tf_keras`` and ``keras_seq`` packages before importing TensorFlow (TensorFlow
tolerates a missing Keras) and loads tensorflow-text's op libraries (``*.so``) directly, which
registers the ``TFText>`` kernels exactly as the TF Serving binary links them in.

Exit status 0 when every check passes, 1 otherwise; the report names each problem.
"""

import argparse
import glob
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000
PREDICT_METHOD_NAME = "tensorflow/serving/predict"
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
FORBIDDEN_OPS = ("PyFunc", "PyFuncStateless", "EagerPyFunc")
ALLOWED_CUSTOM_OP_PREFIX = "TFText>"
XLA_MUST_COMPILE_ATTR = "_XlaMustCompile"
# DataType enum names that TF Serving's JSON codec (util/json_tensor.cc) reads and writes.
# Not DT_UINT16: its AddValueToTensor has no case for it (a request is "Unimplemented:
# Conversion of JSON Value ... to type: uint16") nor has AddSingleValueAndAdvance (an answer
# is "Failed to write JSON value for tensor type: uint16").
JSON_DTYPES = (
    "DT_FLOAT",
    "DT_DOUBLE",
    "DT_INT8",
    "DT_INT16",
    "DT_INT32",
    "DT_INT64",
    "DT_UINT8",
    "DT_UINT32",
    "DT_UINT64",
    "DT_BOOL",
    "DT_STRING",
)
BLOCKED_PACKAGES = ("keras", "tf_keras", "keras_seq")
# Default tolerances of the comparison with the recorded outputs. A graph computing in
# bfloat16 or float16 (a mixed-precision model) gets the low-precision pair: with oneDNN,
# TensorFlow fuses such ops differently in a session than in a tf.function, so a correct
# export serves numbers that differ by a few bfloat16 roundings (eps 2**-8) from the
# recorded ones.
DEFAULT_TOLERANCES = (1e-5, 1e-6)
LOW_PRECISION_TOLERANCES = (1e-2, 1e-2)
LOW_PRECISION_DTYPES = ("DT_BFLOAT16", "DT_HALF")
# Exit statuses of a shell command ended by SIGPIPE (128 + 13) and by Ctrl-C (128 + SIGINT),
# as `keras-seq translate` ends.
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130


class _BlockedLoader(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"{spec.name} is blocked: the export checker runs without Keras")

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is blocked")


class _BlockingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in BLOCKED_PACKAGES:
            return None
        # TensorFlow asks find_spec("keras") for a directory at import time: give it a path.
        origin = os.path.join(os.sep, "blocked", *name.split("."), "__init__.py")
        return importlib.machinery.ModuleSpec(name, _BlockedLoader(), origin=origin)


def block_keras():
    """Makes ``keras``, ``tf_keras`` and ``keras_seq`` unimportable in this process."""
    if not any(isinstance(finder, _BlockingFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BlockingFinder())


def load_tensorflow_text_kernels():
    """Registers the ``TFText>`` ops by loading tensorflow-text's op libraries.

    Returns:
        The number of libraries loaded (0 when tensorflow-text is not installed).
    """
    import tensorflow as tf

    spec = importlib.util.find_spec("tensorflow_text")
    if spec is None or not spec.submodule_search_locations:
        return 0
    root = list(spec.submodule_search_locations)[0]
    libraries = sorted(glob.glob(os.path.join(root, "python", "*", "_*.so")))
    for library in libraries:
        tf.load_op_library(library)
    return len(libraries)


def read_meta_graph(version_dir):
    """Returns the ``serve`` MetaGraphDef of the SavedModel in ``version_dir``."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(version_dir, "saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        saved_model.ParseFromString(f.read())
    for meta_graph in saved_model.meta_graphs:
        if list(meta_graph.meta_info_def.tags) == ["serve"]:
            return meta_graph
    raise ValueError(f"{path} has no MetaGraph tagged exactly ['serve'] (what TF Serving loads)")


def graph_op_types(meta_graph):
    """Returns the set of op types in the graph and in every function of its library."""
    ops = {node.op for node in meta_graph.graph_def.node}
    for function in meta_graph.graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    return ops


def _is_registered(op_type):
    from tensorflow.python.framework import op_def_registry

    return op_def_registry.get(op_type) is not None


def static_problems(meta_graph, require_string_inputs=False):
    """Lists what would stop TF Serving from loading or serving ``meta_graph``.

    Args:
        meta_graph: MetaGraphDef proto.
        require_string_inputs: bool. keras_seq's own rule (not TF Serving's): every input
            without a default is a string tensor.

    Returns:
        A list of readable problem descriptions, empty when the graph is servable.
    """
    from tensorflow.core.framework import types_pb2

    problems = []
    function_names = {f.signature.name for f in meta_graph.graph_def.library.function}
    for op_type in sorted(graph_op_types(meta_graph)):
        if op_type in FORBIDDEN_OPS:
            problems.append(
                f"op {op_type} (tf.py_function / tf.numpy_function) runs Python code: "
                "TF Serving has no Python interpreter"
            )
        elif op_type in function_names:
            continue
        elif ">" in op_type and not op_type.startswith(ALLOWED_CUSTOM_OP_PREFIX):
            problems.append(
                f"op {op_type} is a custom op outside stock TensorFlow and tensorflow-text "
                "(TF Serving reports 'Op type not registered')"
            )
        elif not _is_registered(op_type):
            problems.append(f"op {op_type} is not registered in stock TensorFlow/tensorflow-text")

    def xla_marked(attrs):
        return XLA_MUST_COMPILE_ATTR in attrs and attrs[XLA_MUST_COMPILE_ATTR].b

    xla = [f.signature.name for f in meta_graph.graph_def.library.function if xla_marked(f.attr)]
    xla += [n.name for n in meta_graph.graph_def.node if xla_marked(n.attr)]
    for function in meta_graph.graph_def.library.function:
        xla += [
            f"{function.signature.name}/{n.name}" for n in function.node_def if xla_marked(n.attr)
        ]
    if xla:
        problems.append(
            f"functions marked for XLA compilation (jit_compile=True): {sorted(set(xla))[:5]}; "
            "TF Serving disables XLA and fails with 'XLA compilation disabled'"
        )

    signatures = {k: v for k, v in meta_graph.signature_def.items() if k != INIT_OP_SIGNATURE_KEY}
    if not signatures:
        problems.append("no serving signature")
    for key, signature in sorted(signatures.items()):
        if signature.method_name != PREDICT_METHOD_NAME:
            problems.append(
                f"signature {key!r}: method_name {signature.method_name!r}, "
                f"expected {PREDICT_METHOD_NAME!r}"
            )
        if not signature.inputs:
            # FillPredictRequestFromJson refuses an empty input map before reading the body.
            problems.append(
                f"signature {key!r} has no inputs; TF Serving's REST API answers every "
                f"request to it 400 'Failed to get input map for signature: {key}'"
            )
        tensors = [("input", n, info) for n, info in signature.inputs.items()]
        tensors += [("output", n, info) for n, info in signature.outputs.items()]
        for kind, name, info in sorted(tensors, key=lambda t: (t[0], t[1])):
            where = f"signature {key!r} {kind} {name!r}"
            if info.WhichOneof("encoding") != "name":
                problems.append(
                    f"{where} is a {info.WhichOneof('encoding')} (ragged or sparse) tensor; "
                    "TF Serving serves dense tensors only: pad it (e.g. RaggedTensor.to_tensor())"
                )
                continue
            dtype = types_pb2.DataType.Name(info.dtype)
            if dtype not in JSON_DTYPES:
                problems.append(f"{where} has dtype {dtype}, which the REST API cannot carry")
            has_default = kind == "input" and name in signature.defaults
            if has_default:
                continue
            if require_string_inputs and kind == "input" and dtype != "DT_STRING":
                problems.append(f"{where} has dtype {dtype}; required inputs must be strings")
            shape = info.tensor_shape
            if shape.unknown_rank or not shape.dim or shape.dim[0].size != -1:
                dims = "unknown rank" if shape.unknown_rank else [d.size for d in shape.dim]
                problems.append(
                    f"{where} has shape {dims}; it must lead with the batch dimension (None)"
                )
    return problems


def read_warmup_records(version_dir):
    """Reads the PredictionLog records of ``assets.extra/tf_serving_warmup_requests``."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(version_dir, WARMUP_FILE)
    records = []
    for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw)
        records.append(log)
    return records


def feed_for_request(signature, request_inputs):
    """Maps tensor names to arrays for one request, filling defaults as TF Serving does.

    Args:
        signature: SignatureDef proto.
        request_inputs: dict of input alias to NumPy array.

    Returns:
        A dict of feed tensor name to array.

    Raises:
        ValueError: extra inputs, or a missing input without a default.
    """
    import tensorflow as tf

    extra = sorted(set(request_inputs) - set(signature.inputs))
    if extra:
        raise ValueError(f"inputs {extra} are not in the signature {sorted(signature.inputs)}")
    feed = {}
    for alias, info in signature.inputs.items():
        if alias in request_inputs:
            feed[info.name] = request_inputs[alias]
        elif alias in signature.defaults:
            feed[info.name] = tf.make_ndarray(signature.defaults[alias])
        else:
            raise ValueError(f"input {alias!r} missing and the signature has no default for it")
    return feed


def _batch_size(signature, request_inputs):
    sizes = {
        alias: value.shape[0]
        for alias, value in request_inputs.items()
        if alias not in signature.defaults and value.ndim > 0
    }
    if len(set(sizes.values())) > 1:
        raise ValueError(f"request inputs disagree on the batch dimension: {sizes}")
    return next(iter(sizes.values()), None)


def _compare(name, actual, expected, rtol, atol):
    import numpy as np

    if actual.shape != expected.shape:
        return f"output {name!r}: shape {actual.shape} != expected {expected.shape}"
    if expected.dtype == object or actual.dtype == object:
        if actual.tolist() != expected.tolist():
            return f"output {name!r}: {actual.tolist()!r} != expected {expected.tolist()!r}"
        return None
    if expected.dtype.kind in "biu" or actual.dtype.kind in "biu":
        # Ids, counts, lengths, flags: exact. A tolerance let a token id 1000 pass for 1001
        # at rtol 1e-2 (the default for a bfloat16 graph) while 10 vs 11 failed.
        if not np.array_equal(actual, expected):
            differ = int(np.count_nonzero(actual != expected))
            return (
                f"output {name!r}: {differ} of {expected.size} integer values differ from the "
                "recorded outputs (integers and booleans are compared exactly)"
            )
        return None
    if not np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
        worst = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
        return f"output {name!r}: differs from the recorded outputs (max abs diff {worst:g})"
    return None


def replay_problems(version_dir, meta_graph, rtol=1e-5, atol=1e-6):
    """Loads ``version_dir`` in a TF1 session and replays its warm-up records.

    Returns:
        (problems, number of records replayed)
    """
    import tensorflow as tf

    path = os.path.join(version_dir, WARMUP_FILE)
    if not os.path.exists(path):
        return [f"no warm-up file {WARMUP_FILE}: signatures cannot be exercised"], 0
    try:
        records = read_warmup_records(version_dir)
    except Exception as error:  # noqa: BLE001 - any parse failure is a report line
        return [f"{WARMUP_FILE} does not parse as PredictionLog records: {error}"], 0
    problems = []
    if len(records) > MAX_WARMUP_RECORDS:
        problems.append(
            f"{WARMUP_FILE} has {len(records)} records; TF Serving reads at most "
            f"{MAX_WARMUP_RECORDS}"
        )
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        try:
            loaded = tf.compat.v1.saved_model.loader.load(session, ["serve"], version_dir)
        except Exception as error:  # noqa: BLE001
            return problems + [f"the TF1 session loader fails: {error}"], 0
        signatures = {k: v for k, v in loaded.signature_def.items() if k != INIT_OP_SIGNATURE_KEY}
        exercised = set()
        for index, log in enumerate(records):
            where = f"warm-up record {index}"
            if log.WhichOneof("log_type") != "predict_log":
                problems.append(f"{where}: {log.WhichOneof('log_type')} (only predict is used)")
                continue
            request = log.predict_log.request
            key = request.model_spec.signature_name or "serving_default"
            if key not in signatures:
                problems.append(f"{where}: signature {key!r} not in {sorted(signatures)}")
                continue
            signature = signatures[key]
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            try:
                feed = feed_for_request(signature, inputs)
                batch = _batch_size(signature, inputs)
                aliases = sorted(signature.outputs)
                fetched = session.run([signature.outputs[a].name for a in aliases], feed)
            except Exception as error:  # noqa: BLE001
                problems.append(f"{where} ({key!r}) fails to run: {error}")
                continue
            exercised.add(key)
            outputs = dict(zip(aliases, fetched, strict=True))
            for alias, value in outputs.items():
                if batch is not None and (value.ndim == 0 or value.shape[0] != batch):
                    problems.append(
                        f"{where} ({key!r}): output {alias!r} has shape {value.shape}, "
                        f"not leading with the batch dimension {batch}"
                    )
            expected = log.predict_log.response.outputs
            if expected:
                if sorted(expected) != aliases:
                    problems.append(
                        f"{where} ({key!r}): outputs {aliases} != expected {sorted(expected)}"
                    )
                    continue
                for alias in aliases:
                    mismatch = _compare(
                        alias, outputs[alias], tf.make_ndarray(expected[alias]), rtol, atol
                    )
                    if mismatch:
                        problems.append(f"{where} ({key!r}): {mismatch}")
        for key in sorted(set(signatures) - exercised):
            problems.append(f"signature {key!r} is not exercised by any warm-up record")
    return problems, len(records)


def model_config_problems(path):
    """Parses ``path`` as a text ModelServerConfig and checks its model entries.

    Returns:
        ``(problems, notes)``: what TF Serving would refuse, and the base paths that are not
        directories on this machine (TF Serving keeps polling a missing one, serving nothing
        under that name; fine when the config is for another machine or a container).
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    try:
        with open(path) as f:
            text_format.Parse(f.read(), config)
    except UnicodeDecodeError as error:  # a binary or Latin-1 file: it was a traceback
        return [f"{path}: not a ModelServerConfig: not UTF-8 text ({error})"], []
    except (OSError, text_format.ParseError) as error:
        return [f"{path}: not a ModelServerConfig: {error}"], []
    problems, notes = [], []
    models = config.model_config_list.config
    if not models:
        problems.append(f"{path}: model_config_list has no config")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        problems.append(f"{path}: duplicate model names {names}")
    for model in models:
        if not model.name or not model.base_path:
            problems.append(f"{path}: every config needs a name and a base_path")
        if model.model_platform not in ("", "tensorflow"):
            problems.append(f"{path}: model {model.name!r} platform {model.model_platform!r}")
        if model.base_path and not os.path.isdir(model.base_path):
            notes.append(
                f"{path}: model {model.name!r}: base_path {model.base_path} is not a directory "
                "here (TF Serving logs 'Could not find base path' and serves nothing under that "
                "name until it appears; fine if the config is for another machine or a "
                "container)"
            )
    return problems, notes


def version_dirs(path):
    """The version directories TF Serving would see under ``path`` (or ``path`` itself)."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return [path]
    if not os.path.isdir(path):
        raise ValueError(f"{path} is neither a SavedModel nor a model base directory")
    directories = version_directories(path)
    return [os.path.join(path, directories[v]) for v in sorted(directories, reverse=True)]


MAX_VERSION = 2**63 - 1  # TF Serving's versions are int64


def version_directories(base_path):
    """Version number -> directory name under ``base_path``, as TF Serving reads them: each
    all-digit name parsed as an int64 (safe_strto64: a larger number is no version) and
    loaded under its own name, so ``0007`` is version 7; the shortest name wins a tie.
    Shared by `export`, ``check-export`` and `keras_seq.serving.ModelServer`."""
    directories = {}
    for entry in sorted(os.listdir(base_path), key=lambda n: (len(n), n)):
        if entry.isascii() and entry.isdigit() and int(entry) <= MAX_VERSION:
            directories.setdefault(int(entry), entry)
    return directories


def computes_in_low_precision(meta_graph):
    """Whether an op of the graph or of its function library has a bfloat16 or float16
    type attribute (``T``, ``DstT``...): the graph of a mixed-precision model."""
    from tensorflow.core.framework import types_pb2

    wanted = {types_pb2.DataType.Value(name) for name in LOW_PRECISION_DTYPES}
    nodes = list(meta_graph.graph_def.node)
    for function in meta_graph.graph_def.library.function:
        nodes.extend(function.node_def)
    for node in nodes:
        for attr in node.attr.values():
            if attr.type in wanted or wanted.intersection(attr.list.type):
                return True
    return False


def check_version(version_dir, rtol=None, atol=None):
    """All checks of one version directory.

    ``rtol`` / ``atol`` None: ``DEFAULT_TOLERANCES`` (1e-5, 1e-6), or
    ``LOW_PRECISION_TOLERANCES`` (1e-2, 1e-2) for a graph that computes in bfloat16/float16.

    Returns:
        (problems, number of warm-up records replayed)
    """
    try:
        meta_graph = read_meta_graph(version_dir)
    except Exception as error:  # noqa: BLE001
        return [f"saved_model.pb does not load: {error}"], 0
    problems = static_problems(meta_graph)
    if problems:
        return problems, 0
    if rtol is None or atol is None:
        defaults = (
            LOW_PRECISION_TOLERANCES
            if computes_in_low_precision(meta_graph)
            else DEFAULT_TOLERANCES
        )
        rtol = defaults[0] if rtol is None else rtol
        atol = defaults[1] if atol is None else atol
    return replay_problems(version_dir, meta_graph, rtol=rtol, atol=atol)


def tolerance(text):
    """Parses a ``--rtol``/``--atol`` value: a finite float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def config_path(text):
    """Parses a ``--model_config_file`` value or a path to check: not the empty string (which
    names no file: an unset ``$CONFIG`` passed the check without one, and an unset
    ``$MODEL_DIR`` checked the working directory when it was a version directory)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got ''")
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="keras-seq check-export",
        description="Check that exported SavedModels serve as TF Serving serves them.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=config_path,
        help="model base directories or version directories",
    )
    parser.add_argument("--model_config_file", type=config_path, help="a models.config to parse")
    parser.add_argument(
        "--rtol",
        type=tolerance,
        help="relative tolerance on float outputs (1e-5; 1e-2 for bfloat16/float16 graphs)",
    )
    parser.add_argument(
        "--atol",
        type=tolerance,
        help="absolute tolerance on float outputs (1e-6; 1e-2 for bfloat16/float16 graphs)",
    )
    parser.add_argument(
        "--report_modules",
        action="store_true",
        help="print a JSON line saying which of keras/tf_keras/keras_seq/tensorflow are loaded",
    )
    args = parser.parse_args(argv)

    block_keras()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow  # registers the stock ops

    # The TF1 loader is the point of the check; its deprecation notice is noise here.
    tensorflow.get_logger().setLevel("ERROR")

    load_tensorflow_text_kernels()

    failures = 0
    checked = 0
    for path in args.paths:
        try:
            versions = version_dirs(path)
        except OSError as error:  # a base directory that cannot be listed: it was a traceback
            print(f"FAIL {path}: cannot list it: {error.strerror or error}")
            failures += 1
            continue
        except ValueError as error:
            print(f"FAIL {path}: {error}")
            failures += 1
            continue
        if not versions:
            print(f"FAIL {path}: no all-digit version directory (TF Serving would serve nothing)")
            failures += 1
        for version_dir in versions:
            checked += 1
            problems, replayed = check_version(version_dir, rtol=args.rtol, atol=args.atol)
            if problems:
                failures += 1
                print(f"FAIL {version_dir}:")
                for problem in problems:
                    print(f"  - {problem}")
            else:
                print(f"PASS {version_dir}: {replayed} warm-up records replayed")
    if args.model_config_file:
        problems, notes = model_config_problems(args.model_config_file)
        for problem in problems:
            print(f"FAIL {problem}")
        for note in notes:
            print(f"NOTE {note}")
        if problems:
            failures += 1
        else:
            print(f"PASS {args.model_config_file}: parses as ModelServerConfig")
    blocked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED_PACKAGES)
    if blocked:
        print(f"FAIL modules that must stay out of the checker were imported: {blocked}")
        failures += 1
    if args.report_modules:
        names = (*BLOCKED_PACKAGES, "tensorflow")
        print("modules: " + json.dumps({name: name in sys.modules for name in names}))
    status = "OK" if failures == 0 else f"FAILED ({failures})"
    print(f"check-export: {status}: {checked} version(s) checked")
    return 0 if failures == 0 else 1


def run(argv=None):
    """`main` as the command ``keras-seq check-export`` runs (its stderr is the user's): Ctrl-C
    ends it with status 130, a reader that goes away (``| head -1``) with 141, a report that
    cannot be written (a full disk) with 1 and one line on stderr; each was a traceback.
    `main` reports every other OSError itself, so one that reaches here is the report's."""
    try:
        status = main(argv)
        if sys.stdout is not None:  # None: closed by the shell (`>&-`)
            sys.stdout.flush()  # a failed write shows here, not as "Exception ignored" at exit
        return status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as error:
        _silence_stdout()
        reason = (error.strerror or str(error)).lower()
        print(f"check-export: cannot write the report: {reason}", file=sys.stderr)
        return 1


def _silence_stdout():
    """Points file descriptor 1 at os.devnull: the flush at interpreter exit then cannot fail
    again on the closed pipe or full disk."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(run())

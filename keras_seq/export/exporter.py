"""Writes a model's serving signatures as a TF Serving version directory.

Protocol: a model exposes ``serving_signatures(self) -> dict`` mapping a signature name to
either a ``tf.function`` created with an ``input_signature`` or a pair
``(callable, input_signature)`` where ``input_signature`` is a list of ``tf.TensorSpec`` (one
per positional argument of the callable). Each function returns a dict of output name to a
dense tensor leading with the batch dimension. An argument with a tensor default value
(``def generate(text, beam_size=tf.constant(4))``) becomes an optional input: TensorFlow
stores the default in ``SignatureDef.defaults`` and TF Serving fills it when a gRPC request
omits the input (its REST API wants every input: docs/serving.md). Optionally
``serving_examples(self) -> dict`` maps signature names to example inputs (``{input_name:
batch}``) used for the warm-up records.
"""

import errno
import numbers
import os
import re
import shutil
import uuid

import keras
import tensorflow as tf

from keras_seq.export import standalone_checker
from keras_seq.export.warmup import WARMUP_FILE_NAME, make_predict_log, write_warmup_requests

# \Z, not $: "$" also matches before a trailing newline ("toy\n" would pass).
_NAME_PATTERN = re.compile(r"\A[A-Za-z0-9_.\-]+\Z")
# TF Serving parses version directory names as int64 and ignores those that overflow.
MAX_VERSION = standalone_checker.MAX_VERSION


def export(model, base_dir, name, version=None, examples=None):
    """Exports ``model``'s serving signatures to ``base_dir/name/version/`` for TF Serving.

    The SavedModel is written through ``keras.export.ExportArchive`` (every layer and lookup
    table tracked, so the TF1 session loader that TF Serving uses finds every variable) into a
    hidden temporary directory inside ``base_dir/name`` (TF Serving only considers all-digit
    directory names), validated, given its warm-up records, then renamed into place: a
    server polling the base directory never sees a half-written version, and a failure
    leaves nothing behind: neither the version nor its temporary directory, nor the
    directories (``base_dir``, ``base_dir/name``) that the export created and left empty.

    Args:
        model: a built Keras model with a ``serving_signatures()`` method (see module doc).
        base_dir: str or path. Directory holding one folder per model name.
        name: str. Model name (the ``/v1/models/<name>`` of the REST API): letters, digits,
            ``_``, ``.`` and ``-``, not ``.`` or ``..``.
        version: optional int in [1, 2**63 - 1] (TF Serving's int64 versions; a NumPy
            integer too). Defaults to one more than the highest version there.
        examples: optional dict of signature name to ``{input_name: batch}``; defaults to
            ``model.serving_examples()``. Every signature needs one: the examples become the
            warm-up records, with the outputs of the traced signatures stored as their
            expected responses.
            Each example gives every input without a default, with the dtype and shape of
            the signature's input (a batch of strings ``[B]`` for a ``[None]`` input).

    Returns:
        The path of the new version directory.

    Raises:
        TypeError: the model has no ``serving_signatures()`` or it returns something else,
            or a signature function returns something other than a dict of tensors.
        ValueError: a bad ``name`` or ``version`` (or no ``version`` given when version
            2**63 - 1 exists: there is no next one); a signature is not servable (ragged
            output, non-string input, no batch dimension, ``jit_compile=True``,
            ``tf.py_function``...); or examples are missing or do not fit their signature
            (TF Serving would fail the version when it replays them at load).
        FileExistsError: the version already exists (versions are never overwritten).
        NotADirectoryError: ``base_dir/name`` exists and is not a directory.

    Example:

    >>> path = export(model, "/models", name="classifier")  # doctest: +SKIP
    >>> path  # doctest: +SKIP
    '/models/classifier/1'
    """
    # "." and ".." match the pattern but name the base directory or its parent.
    if not isinstance(name, str) or not _NAME_PATTERN.match(name) or name in (".", ".."):
        raise ValueError(f"name must be letters, digits, '_', '.', '-' (not . or ..); got {name!r}")
    signatures = _serving_signatures(model)
    examples = _examples(model, examples, signatures)
    model_dir = os.path.join(os.fspath(base_dir), name)
    if os.path.lexists(model_dir) and not os.path.isdir(model_dir):
        # os.makedirs would raise a bare FileExistsError, which here means "that version
        # already exists".
        raise NotADirectoryError(
            f"{model_dir} exists and is not a directory: it cannot hold the versions of "
            f"model {name!r}"
        )
    created = _make_directories(model_dir)
    temp_dir = None
    try:
        version = _resolve_version(model_dir, version)
        final_dir = os.path.join(model_dir, str(version))
        _refuse_existing(model_dir, version, name, "already exists")
        temp_dir = os.path.join(model_dir, f".tmp-{version}-{uuid.uuid4().hex}")
        archive = keras.export.ExportArchive()
        _track(archive, model)
        functions = {}
        for key, (fn, input_signature) in signatures.items():
            # The expected outputs come from the traced graph that is exported, not from an
            # eager run: under mixed_bfloat16 the two round differently (oneDNN fuses the
            # graph's ops), so eager outputs would fail the check of a correct export.
            functions[key] = archive.add_endpoint(key, fn, input_signature)
        if "serving_default" not in functions:
            first = next(iter(signatures))
            functions["serving_default"] = functions[first]
            examples.setdefault("serving_default", examples[first])
        archive.write_out(temp_dir, verbose=False)

        meta_graph = standalone_checker.read_meta_graph(temp_dir)
        problems = standalone_checker.static_problems(meta_graph, require_string_inputs=True)
        if problems:
            raise ValueError(
                f"model {name!r} is not servable by TF Serving:\n  - " + "\n  - ".join(problems)
            )
        logs = [
            _warmup_log(name, key, meta_graph.signature_def[key], functions[key], examples[key])
            for key in functions
        ]
        os.makedirs(os.path.join(temp_dir, "assets.extra"))
        write_warmup_requests(os.path.join(temp_dir, "assets.extra", WARMUP_FILE_NAME), logs)
        _refuse_existing(model_dir, version, name, "appeared")
        try:
            os.rename(temp_dir, final_dir)
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Another export renamed the same version into place since the check above
            # (two jobs exporting at once): the documented FileExistsError, not a bare
            # "Directory not empty".
            raise FileExistsError(
                f"version {version} of {name!r} appeared at {final_dir} while exporting"
            ) from None
    except BaseException:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        _remove_if_empty(created)
        raise
    return final_dir


def _make_directories(path):
    """``os.makedirs(path, exist_ok=True)``; returns the directories it created, deepest
    first, for `_remove_if_empty` to take back after a failed export."""
    created = []
    missing = os.path.abspath(path)
    while not os.path.lexists(missing):
        created.append(missing)
        parent = os.path.dirname(missing)
        if parent == missing:
            break
        missing = parent
    try:
        os.makedirs(path, exist_ok=True)
    except BaseException:
        _remove_if_empty(created)
        raise
    return created


def _remove_if_empty(directories):
    """Removes ``directories`` (deepest first) while they are empty: a concurrent export that
    wrote into one keeps it (``os.rmdir`` refuses a directory that is not empty)."""
    for directory in directories:
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            continue
        except OSError:
            return


def _refuse_existing(model_dir, version, name, verb):
    """FileExistsError when ``version`` has a directory under ``model_dir`` under any name TF
    Serving reads as that number (``7``, ``0007``): versions are never overwritten."""
    existing = standalone_checker.version_directories(model_dir).get(version)
    if existing is not None:
        path = os.path.join(model_dir, existing)
        raise FileExistsError(f"version {version} of {name!r} {verb} at {path}")


def next_version(model_dir):
    """One more than the highest version in ``model_dir`` (1 when none).

    A version is an all-digit directory name that TF Serving reads as an int64.

    Raises:
        ValueError: the highest version is already 2**63 - 1: one more is no int64, and TF
            Serving would never see a directory of that name.
    """
    if not os.path.isdir(model_dir):
        return 1
    highest = max(standalone_checker.version_directories(model_dir), default=0)
    if highest >= MAX_VERSION:
        raise ValueError(
            f"{model_dir} already holds version {highest} = 2**63 - 1, TF Serving's highest "
            "(int64) version: there is no next one; pass version= a free number below it"
        )
    return highest + 1


def _resolve_version(model_dir, version):
    if version is None:
        return next_version(model_dir)
    # NumPy integers are taken (a version computed from a listing, `np.int64(7)`): they were
    # refused as "must be a positive int", and the directory is named by the Python int.
    if (
        isinstance(version, bool)
        or not isinstance(version, numbers.Integral)
        or not 1 <= version <= MAX_VERSION
    ):
        raise ValueError(
            f"version must be a positive int <= 2**63 - 1 (TF Serving's int64), got {version!r}"
        )
    return int(version)


def _serving_signatures(model):
    method = getattr(model, "serving_signatures", None)
    if not callable(method):
        raise TypeError(
            f"{type(model).__name__} has no serving_signatures() method; see keras_seq.export"
        )
    signatures = method()
    if not isinstance(signatures, dict) or not signatures:
        raise TypeError(
            f"serving_signatures() must return a non-empty dict, got {type(signatures).__name__}"
        )
    normalized = {}
    for key, entry in signatures.items():
        if not isinstance(key, str) or not _NAME_PATTERN.match(key) or key.startswith("__"):
            raise ValueError(f"signature name {key!r} is not a valid signature key")
        if isinstance(entry, tf.types.experimental.GenericFunction):
            input_signature = entry.input_signature
            if input_signature is None:
                raise ValueError(
                    f"signature {key!r}: the tf.function needs an explicit input_signature"
                )
            entry.get_concrete_function()  # ExportArchive takes traced tf.functions
            normalized[key] = (entry, None)
        elif isinstance(entry, (tuple, list)) and len(entry) == 2 and callable(entry[0]):
            input_signature = entry[1]
            normalized[key] = (entry[0], list(input_signature))
        else:
            raise TypeError(
                f"signature {key!r}: expected a tf.function or (callable, input_signature), "
                f"got {entry!r}"
            )
        for spec in input_signature:
            if not isinstance(spec, tf.TensorSpec):
                raise TypeError(
                    f"signature {key!r}: input_signature entries must be tf.TensorSpec, "
                    f"got {spec!r}"
                )
    return normalized


def _examples(model, examples, signatures):
    if examples is None:
        method = getattr(model, "serving_examples", None)
        examples = method() if callable(method) else {}
    if not isinstance(examples, dict):
        raise TypeError(f"examples must be a dict of signature name to inputs, got {examples!r}")
    missing = sorted(set(signatures) - set(examples))
    if missing:
        raise ValueError(
            f"no example inputs for signatures {missing}: pass examples= or define "
            "serving_examples(); they become the warm-up records and the served-output proof"
        )
    unknown = sorted(set(examples) - set(signatures))
    if unknown:
        raise ValueError(f"examples for unknown signatures {unknown}; known: {sorted(signatures)}")
    return dict(examples)


def _track(archive, model):
    """Tracks the model, every nested layer and every lookup table they hold."""
    archive.track(model)
    # Keras exposes no public recursive layer walk; _flatten_layers is what Keras' own
    # Model.layers uses.
    for layer in model._flatten_layers(include_self=False):
        archive.track(layer)
    for layer in model._flatten_layers(include_self=True):
        for value in vars(layer).values():
            if isinstance(value, tf.saved_model.experimental.TrackableResource):
                archive.track(value)


def _warmup_log(model_name, key, signature_def, function, example):
    """A warm-up record: the example request and the model's outputs for it."""
    if not isinstance(example, dict) or not example:
        raise ValueError(f"examples[{key!r}] must be a non-empty dict of input name to batch")
    unknown = sorted(set(example) - set(signature_def.inputs))
    if unknown:
        raise ValueError(
            f"examples[{key!r}] has inputs {unknown} not in the signature "
            f"{sorted(signature_def.inputs)}"
        )
    missing = sorted(set(signature_def.inputs) - set(example) - set(signature_def.defaults))
    if missing:
        raise ValueError(f"examples[{key!r}] lacks inputs {missing}, which have no default")
    tensors = {}
    for input_name, value in example.items():
        info = signature_def.inputs[input_name]
        dtype = tf.dtypes.as_dtype(info.dtype)
        shape = tf.TensorShape(info.tensor_shape)
        try:
            tensor = tf.constant(value, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"examples[{key!r}][{input_name!r}] is not a {dtype.name} array: {error}"
            ) from None
        # TF Serving feeds the record to a placeholder of this shape and fails the whole
        # version when warm-up fails; eager functions accept any shape, so check here.
        if not shape.is_compatible_with(tensor.shape):
            raise ValueError(
                f"examples[{key!r}][{input_name!r}] has shape {tensor.shape}, which does "
                f"not fit the signature's input shape {shape}"
            )
        tensors[input_name] = tensor
    # The endpoint's tf.function: the graph the SavedModel holds.
    outputs = function(**tensors)
    if not isinstance(outputs, dict):
        # A bare tensor, tuple or list: its outputs would reach REST clients under names
        # ExportArchive makes up (output_0...), and .items() below was a bare AttributeError.
        raise TypeError(
            f"signature {key!r} returns {type(outputs).__name__}, not a dict of output name "
            "to tensor: return e.g. {'scores': tensor} (the names are the REST output names)"
        )
    return make_predict_log(model_name, key, tensors, {k: v.numpy() for k, v in outputs.items()})

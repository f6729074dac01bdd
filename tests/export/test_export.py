import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.export import (
    check_export,
    export,
    make_predict_log,
    next_version,
    read_warmup_requests,
    write_warmup_requests,
)
from keras_seq.export.standalone_checker import WARMUP_FILE
from keras_seq.serving import read_model_server_config
from tests.export.toy_models import (
    TEXTS,
    eager_outputs,
    make_classifier,
    reference_normalize,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS_CONFIG = os.path.join(REPO_ROOT, "serving", "models.config")


@pytest.fixture(scope="module")
def classifier():
    return make_classifier(seed=0)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, classifier):
    base = tmp_path_factory.mktemp("models")
    path = export(classifier, base, name="toy")
    return base, path


class DenseEcho(keras.Model):
    """One Dense layer plus a configurable (possibly unservable) string signature."""

    def __init__(self, signature, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)
        self.signature = signature

    def call(self, x):
        return self.dense(x)

    def serving_signatures(self):
        return {"serving_default": self.signature}

    def serving_examples(self):
        return {"serving_default": {"text": ["a b"]}}


def _py_function_signature(text):
    return {"out": tf.py_function(lambda t: t, [text], tf.string)}


def _ragged_signature(text):
    return {"tokens": tf.strings.split(text)}


def _scalar_output_signature(text):
    return {"count": tf.size(text)}


def _float_input_signature(x):
    return {"out": tf.strings.as_string(x)}


TEXT_SPEC = [tf.TensorSpec([None], tf.string, name="text")]
BAD_SIGNATURES = {
    "py_function": ((_py_function_signature, TEXT_SPEC), "EagerPyFunc"),
    "jit_compile": (
        tf.function(lambda text: {"out": text}, input_signature=TEXT_SPEC, jit_compile=True),
        "jit_compile=True",
    ),
    "ragged": ((_ragged_signature, TEXT_SPEC), "ragged or sparse"),
    "scalar_output": ((_scalar_output_signature, TEXT_SPEC), "batch dimension"),
    "float_input": (
        (_float_input_signature, [tf.TensorSpec([None], tf.float32, name="x")]),
        "required inputs must be strings",
    ),
}


def _built(model):
    model(tf.zeros([1, 3]))
    return model


def test_layout_and_warmup_file(exported):
    base, path = exported
    assert path == os.path.join(str(base), "toy", "1")
    assert sorted(os.listdir(os.path.join(base, "toy"))) == ["1"]  # no temporary dir left
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.path.isdir(os.path.join(path, "variables"))
    assert os.path.isfile(os.path.join(path, WARMUP_FILE))


def test_warmup_records_hold_requests_and_eager_outputs(exported, classifier):
    _, path = exported
    logs = read_warmup_requests(os.path.join(path, WARMUP_FILE))
    by_signature = {log.predict_log.request.model_spec.signature_name: log for log in logs}
    assert sorted(by_signature) == [
        "normalize",
        "normalize_bytes",
        "normalize_with",
        "serving_default",
        "spin",
    ]
    for key, log in by_signature.items():
        request = log.predict_log.request
        assert request.model_spec.name == "toy"
        texts = tf.make_ndarray(request.inputs["text"]).tolist()
        assert texts == [t.encode() for t in TEXTS]
        expected = eager_outputs(classifier, key, TEXTS)
        response = log.predict_log.response.outputs
        assert sorted(response) == sorted(expected)
        for name, value in expected.items():
            np.testing.assert_array_equal(tf.make_ndarray(response[name]), value)
    normalized = tf.make_ndarray(
        by_signature["normalize"].predict_log.response.outputs["normalized"]
    )
    assert [s.decode() for s in normalized] == reference_normalize(TEXTS)


def test_signature_defaults_are_optional_inputs(exported):
    from keras_seq.export.standalone_checker import read_meta_graph

    _, path = exported
    signature = read_meta_graph(path).signature_def["normalize_with"]
    assert sorted(signature.inputs) == ["separator", "text"]
    assert tf.make_ndarray(signature.defaults["separator"]) == b" "
    assert list(signature.defaults) == ["separator"]


def test_next_version_and_no_overwrite(tmp_path, classifier):
    os.makedirs(tmp_path / "toy" / "3")
    os.makedirs(tmp_path / "toy" / "not_a_version_10")
    path = export(classifier, tmp_path, name="toy")
    assert os.path.basename(path) == "4"
    assert next_version(tmp_path / "toy") == 5
    mtime = os.path.getmtime(os.path.join(path, "saved_model.pb"))
    with pytest.raises(FileExistsError, match="version 4 of 'toy' already exists"):
        export(classifier, tmp_path, name="toy", version=4)
    assert os.path.getmtime(os.path.join(path, "saved_model.pb")) == mtime
    assert sorted(os.listdir(tmp_path / "toy")) == ["3", "4", "not_a_version_10"]


def test_failure_mid_export_leaves_nothing(tmp_path, classifier):
    # The SavedModel is fully written before the examples are run; a bad example fails the
    # export there, and neither the version nor the temporary directory may remain.
    examples = {key: {"text": TEXTS} for key in classifier.serving_signatures()}
    examples["normalize"] = {"txt": TEXTS}
    with pytest.raises(ValueError, match=r"examples\['normalize'\] has inputs \['txt'\]"):
        export(classifier, tmp_path, name="toy", examples=examples)
    assert os.listdir(tmp_path) == []  # nor toy/, which the export made


@pytest.mark.parametrize("case", sorted(BAD_SIGNATURES))
def test_export_rejects_unservable_signatures(tmp_path, case):
    signature, message = BAD_SIGNATURES[case]
    model = _built(DenseEcho(signature))
    with pytest.raises(ValueError, match="not servable by TF Serving") as info:
        export(model, tmp_path, name="bad")
    assert message in str(info.value)
    assert os.listdir(tmp_path) == []


def test_export_argument_errors(tmp_path, classifier):
    with pytest.raises(TypeError, match="has no serving_signatures"):
        export(_built(keras.Sequential([keras.layers.Dense(2)])), tmp_path, name="m")
    with pytest.raises(ValueError, match="no example inputs for signatures"):
        export(classifier, tmp_path, name="toy", examples={"serving_default": {"text": TEXTS}})
    with pytest.raises(ValueError, match="version must be a positive int"):
        export(classifier, tmp_path, name="toy", version=0)
    with pytest.raises(ValueError, match="name must be"):
        export(classifier, tmp_path, name="../escape")
    untyped = DenseEcho(tf.function(lambda text: {"out": text}))
    with pytest.raises(ValueError, match="needs an explicit input_signature"):
        export(_built(untyped), tmp_path, name="untyped")
    with pytest.raises(TypeError, match="expected a tf.function or"):
        export(_built(DenseEcho("not a function")), tmp_path, name="nonsense")


def _write_unvalidated(base, name, signature):
    """Writes a SavedModel straight through ExportArchive, bypassing export()'s checks."""
    model = _built(DenseEcho(signature))
    archive = keras.export.ExportArchive()
    archive.track(model)
    fn, spec = signature if isinstance(signature, tuple) else (signature, None)
    archive.add_endpoint("serving_default", fn, spec)
    path = os.path.join(base, name, "1")
    archive.write_out(path, verbose=False)
    return os.path.dirname(path)


def test_checker_passes_good_export_without_keras(exported):
    base, _ = exported
    result = check_export(os.path.join(base, "toy"), MODELS_CONFIG, report_modules=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "5 warm-up records replayed" in result.stdout
    assert "parses as ModelServerConfig" in result.stdout
    modules_line = next(line for line in result.stdout.splitlines() if line.startswith("modules: "))
    modules = json.loads(modules_line[len("modules: ") :])
    assert modules == {"keras": False, "tf_keras": False, "keras_seq": False, "tensorflow": True}


def test_checker_rejects_bad_exports(tmp_path, exported):
    jit = tf.function(lambda text: {"out": text}, input_signature=TEXT_SPEC, jit_compile=True)
    jit.get_concrete_function()
    bad = {
        "py_function": _write_unvalidated(
            tmp_path, "py_function", BAD_SIGNATURES["py_function"][0]
        ),
        "jit_compile": _write_unvalidated(tmp_path, "jit_compile", jit),
        "ragged": _write_unvalidated(tmp_path, "ragged", BAD_SIGNATURES["ragged"][0]),
    }
    # A good export whose recorded expected outputs do not match what the graph computes.
    base, path = exported
    tampered = os.path.join(tmp_path, "tampered", "1")
    shutil.copytree(path, tampered)
    logs = read_warmup_requests(os.path.join(tampered, WARMUP_FILE))
    expected = logs[0].predict_log.response.outputs
    name = sorted(expected)[0]
    array = tf.make_ndarray(expected[name])
    wrong = array + 1 if array.dtype != object else np.array([b"x"] * len(array), object)
    expected[name].CopyFrom(tf.make_tensor_proto(wrong))
    with tf.io.TFRecordWriter(os.path.join(tampered, WARMUP_FILE)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    bad["tampered"] = os.path.dirname(tampered)

    # The Keras 3 pitfall (serving#2250): a bare tf.Module + tf.saved_model.save loads
    # with tf.saved_model.load but not in the TF1 session loader that TF Serving uses.
    model = _built(DenseEcho(None))
    module = tf.Module()
    module.model = model
    module.serve = tf.function(
        lambda x: {"out": model(x)}, input_signature=[tf.TensorSpec([None, 3], tf.float32)]
    )
    bare = os.path.join(tmp_path, "bare_module", "1")
    tf.saved_model.save(module, bare, signatures={"serving_default": module.serve})
    reloaded = tf.saved_model.load(bare).signatures["serving_default"](x=tf.ones([2, 3]))
    np.testing.assert_allclose(reloaded["out"], model(tf.ones([2, 3])), rtol=1e-6)
    os.makedirs(os.path.join(bare, "assets.extra"))
    write_warmup_requests(
        os.path.join(bare, WARMUP_FILE),
        [make_predict_log("bare", "serving_default", {"x": np.ones([2, 3], np.float32)})],
    )
    bad["bare_module"] = os.path.dirname(bare)

    result = check_export([bad[k] for k in sorted(bad)])
    report = result.stdout
    assert result.returncode == 1, report
    sections = report.split("FAIL ")

    def section(key):
        return next(s for s in sections if s.startswith(os.path.join(bad[key], "1")))

    assert "EagerPyFunc" in section("py_function")
    assert "jit_compile=True" in section("jit_compile")
    assert "'tokens' is a composite_tensor (ragged or sparse)" in section("ragged")
    assert f"output {name!r}" in section("tampered")
    assert "Could not find variable" in section("bare_module")
    assert "check-export: FAILED (5)" in report


def test_models_config_parses():
    config = read_model_server_config(MODELS_CONFIG)
    models = {m.name: m for m in config.model_config_list.config}
    assert models, "serving/models.config declares no model"
    for model in models.values():
        assert model.model_platform == "tensorflow"
        assert model.base_path.startswith("/models/")

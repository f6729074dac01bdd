"""Test helpers on the public Keras API (keras-hub style).

- ``run_layer_test``: build, call, output shape, one training step that moves every weight.
- ``run_serialization_test``: get_config/from_config round trip gives the same config and outputs.
- ``run_model_saving_test``: `.keras` save and reload inside a model, same outputs.
- ``dtype_policy``: a context with another global Keras dtype policy.
- ``run_json_script``: a script in a subprocess (for logical devices made before TensorFlow
  starts), its last stdout line read as JSON.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np


@contextlib.contextmanager
def dtype_policy(name):
    """The global Keras dtype policy is ``name`` inside the context, and restored after."""
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _to_numpy(x):
    return (
        [keras.ops.convert_to_numpy(t) for t in x]
        if isinstance(x, (list, tuple))
        else [keras.ops.convert_to_numpy(x)]
    )


def assert_allclose(actual, desired, atol=1e-5, rtol=1e-5, err_msg=""):
    for a, d in zip(_to_numpy(actual), _to_numpy(desired), strict=True):
        np.testing.assert_allclose(a, d, atol=atol, rtol=rtol, err_msg=err_msg)


def run_layer_test(layer, inputs, expected_output_shape, call_kwargs=None):
    """Builds and calls ``layer``; checks the shape; one SGD step changes every trainable weight."""
    import tensorflow as tf

    call_kwargs = call_kwargs or {}
    outputs = layer(inputs, **call_kwargs)
    shapes = [tuple(o.shape) for o in _as_list(outputs)]
    expected = (
        [tuple(s) for s in expected_output_shape]
        if isinstance(expected_output_shape, list)
        else [tuple(expected_output_shape)]
    )
    assert shapes == expected, f"output shapes {shapes} != expected {expected}"
    if not layer.trainable_weights:
        return outputs
    before = [w.numpy().copy() for w in layer.trainable_weights]
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    with tf.GradientTape() as tape:
        outputs = layer(inputs, training=True, **call_kwargs)
        loss = sum(tf.reduce_sum(tf.square(o)) for o in _as_list(outputs))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(g is not None for g in grads), "a trainable weight got no gradient"
    optimizer.apply_gradients(zip(grads, layer.trainable_weights, strict=True))
    moved = [
        not np.allclose(b, w.numpy()) for b, w in zip(before, layer.trainable_weights, strict=True)
    ]
    assert all(moved), "a training step left some weights unchanged"
    return outputs


def run_serialization_test(layer, inputs=None, call_kwargs=None):
    """get_config/from_config round trip: same config; with inputs, the same outputs."""
    call_kwargs = call_kwargs or {}
    config = layer.get_config()
    serialized = keras.saving.serialize_keras_object(layer)
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is type(layer)
    assert revived.get_config() == config
    if inputs is not None:
        expected = layer(inputs, **call_kwargs)
        revived(inputs, **call_kwargs)
        revived.set_weights(layer.get_weights())
        assert_allclose(revived(inputs, **call_kwargs), expected)
    return revived


def run_model_saving_test(model, inputs, atol=1e-6):
    """Saves ``model`` as `.keras`, loads it back and checks the outputs are identical."""
    expected = model(inputs)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    assert_allclose(restored(inputs), expected, atol=atol, rtol=0)
    return restored


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def run_json_script(path, timeout):
    """Runs the Python script ``path`` from the repository root and returns its last line of
    output read as JSON; fails with the end of its output when it exits with an error."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run(
        [sys.executable, path], capture_output=True, text=True, timeout=timeout, cwd=root
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])

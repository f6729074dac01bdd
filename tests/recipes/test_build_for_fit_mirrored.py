"""`build_for_fit` under MirroredStrategy: Keras 3.15's `fit` all-reduces a first batch to build
the compiled state and failed ("Inputs to operation AddN ... must have the same size and
shape") when that batch does not split evenly over the replicas (a global batch of 3 on 2
replicas, 32 on 3 GPUs); the recipes' `build_for_fit` builds it from the element spec instead.
The tagger then trains to one device's losses and weights.

The training runs in a subprocess (``python -m tests.recipes.test_build_for_fit_mirrored``:
the two logical CPU devices must exist before TensorFlow starts), which prints one JSON line."""

import json
import os
import subprocess
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# float32 sums in another order (the models' MirroredStrategy tests measure ~1e-7).
TOLERANCE = 1e-5


def train(strategy):
    """Losses per epoch and weights of two SGD epochs of a tiny tagger on 6 sentences in
    batches of 3, through the recipes' `build_for_fit`."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_seq.losses import MaskedSequenceLoss
    from keras_seq.models import SequenceTagger
    from tests.recipes.recipe_modules import load_recipe

    common = load_recipe("_common", prefix="build_for_fit")
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 20, (6, 5)).astype("int32")
    tokens[1, 3:] = 0
    tokens[4, 2:] = 0
    tags = np.where(tokens > 0, tokens % 4 + 1, 0).astype("int32")
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = SequenceTagger(["A", "B", "C", "D"], vocabulary_size=20, embedding_dim=4, units=3)
        model.compile(keras.optimizers.SGD(0.5), MaskedSequenceLoss())
    dataset = tf.data.Dataset.from_tensor_slices((tokens, tags)).batch(3)
    common.build_for_fit(types.SimpleNamespace(strategy=strategy), model, dataset)
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False).history
    return history["loss"], [w.numpy() for w in model.weights]


def main():
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    one_loss, one_weights = train(tf.distribute.get_strategy())
    results = {"one_device": one_loss}
    for name, devices in (("mirrored_2", ["/cpu:0", "/cpu:1"]), ("mirrored_1", ["/cpu:0"])):
        loss, weights = train(tf.distribute.MirroredStrategy(devices))
        results[name] = {
            "loss": loss,
            "weights": max(
                float(np.max(np.abs(a - b))) for a, b in zip(one_weights, weights, strict=True)
            ),
        }
    print(json.dumps(results))


@pytest.fixture(scope="module")
def results():
    # `-m` from the repository root: the keras_seq and recipes next to this file are tested.
    run = subprocess.run(
        [sys.executable, "-m", "tests.recipes.test_build_for_fit_mirrored"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("strategy", ["mirrored_2", "mirrored_1"])
def test_mirrored_fit_with_a_first_batch_that_does_not_split_evenly(results, strategy):
    one = results["one_device"]
    assert one[0] != pytest.approx(one[1], abs=1e-3)  # the training moved
    assert results[strategy]["loss"] == pytest.approx(one, abs=TOLERANCE), results
    assert results[strategy]["weights"] < TOLERANCE, results


if __name__ == "__main__":
    main()

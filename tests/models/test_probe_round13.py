"""Under MirroredStrategy the `SequenceClassifier` trains on the mean loss of the global batch
also when the replicas hold different numbers of examples. Keras divides each replica's
per-example mean by the number of replicas and sums the gradients: on a last batch of 3 split
2 + 1 (or of 1 split 1 + 0) the update was the mean of the two replicas' means, which gave the
lone example the weight of the other two (one device's weights 0.06 away after two epochs).

The training runs in a subprocess (``python -m tests.models.test_probe_round13``: the two
logical CPU devices must exist before TensorFlow starts), which prints one JSON line."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# float32 sums in another order: measured at most 1.2e-7 on losses of about 1 to 4 and on
# weights moved by 0.09 to 0.5. The defect: weights 0.08 to 0.28 away from one device's (the
# "sum" loss: right weights, but logged 4.44 for 4.22 and evaluated 4.16 for 3.98).
TOLERANCE = 1e-5
EXAMPLES = 7
CASES = {
    # name: (examples, batch size, reduction, with sample weights)
    "last_batch_2_plus_1": (7, 4, "sum_over_batch_size", False),
    "last_batch_1_plus_0": (5, 4, "sum_over_batch_size", False),
    "batch_of_3_on_2_replicas": (6, 3, "sum_over_batch_size", False),
    "sample_weights": (7, 4, "sum_over_batch_size", True),
    "mean_with_sample_weight": (7, 4, "mean_with_sample_weight", True),
    "sum": (7, 4, "sum", False),
}


def data():
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, (EXAMPLES, 4)).astype("int32")
    ids[1, 2:] = 0  # padding: pooled over the real tokens only
    labels = np.array([0, 1, 2, 1, 0, 2, 2], "int32")
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 2.0], "float32")
    return ids, labels, weights


def train(strategy, examples, batch_size, reduction, weighted):
    """History, `evaluate` and weights of two SGD epochs, from the same initial weights."""
    import keras
    import tensorflow as tf

    from keras_seq.models import SequenceClassifier

    ids, labels, weights = data()
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = SequenceClassifier(
            ["a", "b", "c"], vocabulary_size=20, embedding_dim=4, units=3, hidden_units=[4]
        )
        model.build()
        model.compile(
            keras.optimizers.SGD(0.5),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction),
        )
    columns = (ids[:examples], labels[:examples])
    if weighted:
        columns += (weights[:examples],)
    dataset = tf.data.Dataset.from_tensor_slices(columns).batch(batch_size)
    if strategy.num_replicas_in_sync > 1 and batch_size % strategy.num_replicas_in_sync:
        # Keras 3.15's `fit` all-reduces a first batch to build the compiled state, which
        # fails when the replicas' halves differ in shape: build it from the element spec
        # (what recipes/_common.py's `build_for_fit` does under MultiWorkerMirroredStrategy).
        with strategy.scope():
            model._symbolic_build(data_batch=dataset.element_spec)
        model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False).history
    evaluated = model.evaluate(dataset, verbose=0, return_dict=True)
    return history["loss"], evaluated["loss"], [w.numpy() for w in model.weights]


def main():
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {}
    for name, case in CASES.items():
        one = train(tf.distribute.get_strategy(), *case)
        two = train(mirrored, *case)
        results[name] = {
            "one_device": {"history": one[0], "evaluated": one[1]},
            "mirrored": {"history": two[0], "evaluated": two[1]},
            "weights": max(
                float(np.max(np.abs(a - b))) for a, b in zip(one[2], two[2], strict=True)
            ),
            "moved": max(
                float(np.max(np.abs(a - b)))
                for a, b in zip(one[2], train_initial_weights(), strict=True)
            ),
        }
    print(json.dumps(results))


def train_initial_weights():
    import keras

    from keras_seq.models import SequenceClassifier

    keras.utils.set_random_seed(0)
    model = SequenceClassifier(
        ["a", "b", "c"], vocabulary_size=20, embedding_dim=4, units=3, hidden_units=[4]
    )
    model.build()
    return [w.numpy() for w in model.weights]


@pytest.fixture(scope="module")
def results():
    # `-m` from the repository root: the keras_seq next to this file is the one tested.
    run = subprocess.run(
        [sys.executable, "-m", "tests.models.test_probe_round13"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_mirrored_classifier_trains_and_logs_as_one_device(results, case):
    result = results[case]
    assert result["moved"] > 0.05  # the training changed the weights
    one, two = result["one_device"], result["mirrored"]
    assert two["history"] == pytest.approx(one["history"], abs=TOLERANCE), result
    assert two["evaluated"] == pytest.approx(one["evaluated"], abs=TOLERANCE), result
    assert result["weights"] < TOLERANCE, result


def test_one_device_losses_are_the_known_values(results):
    # The reference itself: Keras' one-device losses (first epoch from the same initial
    # weights), so that a change to the model that moves them is seen here first.
    first_epoch = {name: r["one_device"]["history"][0] for name, r in results.items()}
    assert first_epoch == pytest.approx(
        {
            "last_batch_2_plus_1": 1.1217506,
            "last_batch_1_plus_0": 1.1253897,
            "batch_of_3_on_2_replicas": 1.1003829,
            "sample_weights": 1.8025818,
            "mean_with_sample_weight": 1.1675234,
            "sum": 4.2194676,
        },
        abs=1e-5,
    )


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    main()

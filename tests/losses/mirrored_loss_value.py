"""Run by test_mirrored_loss_value.py in a subprocess (the two logical CPU devices must be
made before TensorFlow starts): the loss and metrics a tagger and a language model log, in
`fit` and `evaluate`, on one device and under MirroredStrategy over two logical CPUs, on 7
examples in batches of 4, so that the last batch splits 2 + 1 between the replicas. Prints one
JSON line of the largest differences."""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from keras_seq.losses import MaskedSequenceLoss  # noqa: E402
from keras_seq.metrics import MaskedAccuracy, Perplexity  # noqa: E402
from keras_seq.models import RNNLanguageModel, SequenceTagger  # noqa: E402

LENGTHS = [5, 3, 2, 2, 4, 2, 1]


def data():
    rng = np.random.default_rng(0)
    ids = np.zeros((len(LENGTHS), 5), "int32")
    for row, length in enumerate(LENGTHS):
        ids[row, :length] = rng.integers(4, 20, length)
    return ids, np.where(ids > 0, ids % 4 + 1, 0).astype("int32")


def run(make, x, y, strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = make()
        model.build()
        model.compile(
            keras.optimizers.Adam(0.01),
            MaskedSequenceLoss(),
            metrics=[MaskedAccuracy(), Perplexity()],
        )
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    history = model.fit(batches, epochs=2, verbose=0, shuffle=False).history
    evaluated = model.evaluate(batches, verbose=0, return_dict=True)
    return history, evaluated, [w.numpy() for w in model.weights]


def differences(make, x, y, mirrored):
    one = run(make, x, y, tf.distribute.get_strategy())
    two = run(make, x, y, mirrored)
    logged = max(
        abs(a - b) for key in one[0] for a, b in zip(one[0][key], two[0][key], strict=True)
    )
    return {
        "loss_one_device": one[0]["loss"],
        "loss_mirrored": two[0]["loss"],
        "logged": logged,
        "evaluated": max(abs(one[1][key] - two[1][key]) for key in one[1]),
        "weights": max(float(np.max(np.abs(a - b))) for a, b in zip(one[2], two[2], strict=True)),
    }


def main():
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    ids, tags = data()
    out = {
        "tagger": differences(
            lambda: SequenceTagger(
                ["A", "B", "C", "D"], vocabulary_size=20, embedding_dim=8, units=6
            ),
            ids,
            tags,
            mirrored,
        ),
        "language_model": differences(
            lambda: RNNLanguageModel(20, embedding_dim=8, units=8),
            ids[:, :-1],
            ids[:, 1:],
            mirrored,
        ),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

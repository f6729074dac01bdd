"""Trains small keras_seq models for a few steps on one device and under MirroredStrategy over
two logical CPU devices, from the same initial weights on the same global batches, and prints
``{case: largest absolute weight difference}`` as JSON.

Run in its own process (`test_mirrored_strategy.py` does): logical devices must be configured
before TensorFlow initializes its devices.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seq.losses import MaskedSequenceLoss  # noqa: E402
from keras_seq.models import Seq2Seq, SequenceClassifier, SequenceTagger  # noqa: E402

STEPS = 3
BATCH = 4  # global batch: 2 examples per replica


def token_batches(rng, lengths, vocabulary_size, steps=STEPS):
    """``steps`` int32 [BATCH, max(lengths)] batches; row i has ``lengths[i]`` ids >= 1."""
    batches = []
    for _ in range(steps):
        ids = np.zeros((BATCH, max(lengths)), "int32")
        for row, length in enumerate(lengths):
            ids[row, :length] = rng.integers(1, vocabulary_size, length)
        batches.append(ids)
    return batches


def tagger_data(rng, lengths):
    tokens = token_batches(rng, lengths, 20)
    tags = [np.where(t > 0, t % 4 + 1, 0).astype("int32") for t in tokens]
    return tokens, tags


def make_tagger():
    return SequenceTagger(["A", "B", "C", "D"], vocabulary_size=20, embedding_dim=8, units=6)


def make_classifier():
    return SequenceClassifier(
        ["x", "y", "z"], vocabulary_size=20, embedding_dim=8, units=6, hidden_units=(8,)
    )


def make_seq2seq():
    return Seq2Seq(source_vocabulary_size=20, target_vocabulary_size=15, embedding_dim=8, units=6)


class PerReplicaMean(keras.losses.Loss):
    """One-device reference of what MirroredStrategy computes with a per-replica mean: the mean
    over the two halves of the batch of each half's `MaskedSequenceLoss`."""

    def call(self, y_true, y_pred):
        loss = MaskedSequenceLoss()
        half = BATCH // 2
        return 0.5 * (loss(y_true[:half], y_pred[:half]) + loss(y_true[half:], y_pred[half:]))


def train(make, loss, batches, initial, strategy, optimizer):
    with strategy.scope():
        model = make()
        model.build()
        model.set_weights(initial)
        model.compile(optimizer(), loss)
    dataset = tf.data.Dataset.from_tensor_slices(batches)  # each element is one global batch
    model.fit(dataset, epochs=1, steps_per_epoch=STEPS, shuffle=False, verbose=0)
    return [w.numpy() for w in model.weights]


def largest_difference(make, loss, batches, optimizer, mirrored, reference_loss=None):
    keras.utils.set_random_seed(0)
    model = make()
    model.build()
    initial = model.get_weights()
    one_device = train(
        make, reference_loss or loss, batches, initial, tf.distribute.get_strategy(), optimizer
    )
    distributed = train(make, loss, batches, initial, mirrored, optimizer)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(one_device, initial, strict=True))
    assert moved > 1e-3, "training did not change the weights"
    return max(float(np.max(np.abs(a - b))) for a, b in zip(one_device, distributed, strict=True))


def main():
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    rng = np.random.default_rng(0)
    # One strategy for every case: strategies created one after the other in a process can
    # reuse collective instance keys across different graphs.
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2

    def adam():
        return keras.optimizers.Adam(0.01)

    def clipped_adam():
        return keras.optimizers.Adam(0.01, clipnorm=0.05)

    results = {}
    # Both replicas hold 8 real tokens.
    equal = tagger_data(rng, [5, 3, 4, 4])
    results["tagger_equal_tokens"] = largest_difference(
        make_tagger, MaskedSequenceLoss(), tuple(equal), adam, mirrored
    )
    results["tagger_equal_tokens_clipnorm"] = largest_difference(
        make_tagger, MaskedSequenceLoss(), tuple(equal), clipped_adam, mirrored
    )
    # 9 and 3 real tokens: the update is the global token mean's...
    unequal = tuple(tagger_data(rng, [5, 4, 2, 1]))
    results["tagger_unequal_tokens_vs_global_mean"] = largest_difference(
        make_tagger, MaskedSequenceLoss(), unequal, adam, mirrored
    )
    # ... not the mean of the two halves' means (the one-device PerReplicaMean loss).
    results["tagger_unequal_tokens_vs_per_replica_mean"] = largest_difference(
        make_tagger, MaskedSequenceLoss(), unequal, adam, mirrored, reference_loss=PerReplicaMean()
    )
    tokens = token_batches(rng, [6, 6, 5, 3], 20)
    labels = [rng.integers(0, 3, BATCH).astype("int32") for _ in range(STEPS)]
    results["classifier"] = largest_difference(
        make_classifier,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (tokens, labels),
        adam,
        mirrored,
    )
    source = token_batches(rng, [4, 6, 5, 5], 20)
    target = token_batches(rng, [4, 3, 3, 4], 15)  # 7 target tokens per replica
    target_in = [np.concatenate([np.full((BATCH, 1), 1, "int32"), t[:, :-1]], 1) for t in target]
    results["seq2seq"] = largest_difference(
        make_seq2seq,
        MaskedSequenceLoss(label_smoothing=0.1),
        ((source, target_in), target),
        adam,
        mirrored,
    )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

import keras
import numpy as np
import pytest

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import MaskedAccuracy, Perplexity


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def batch(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(2, 4, 6)).astype("float32")
    targets = np.array([[3, 4, 2, 0], [5, 2, 0, 0]])
    return targets, logits


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_loss_matches_numpy(smoothing):
    targets, logits = batch()
    lp = log_softmax(logits.astype("float64"))
    nll = -np.take_along_axis(lp, targets[..., None], -1)[..., 0]
    token = (1 - smoothing) * nll + smoothing * -lp.mean(-1)
    valid = targets != 0
    expected = token[valid].mean()
    loss = MaskedSequenceLoss(label_smoothing=smoothing)(targets, logits)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        MaskedSequenceLoss(label_smoothing=1.0)


def test_metrics_match_numpy_over_batches():
    accuracy, perplexity = MaskedAccuracy(), Perplexity()
    hits = total = nll = 0.0
    for seed in range(3):
        targets, logits = batch(seed)
        accuracy.update_state(targets, logits)
        perplexity.update_state(targets, logits)
        valid = targets != 0
        lp = log_softmax(logits.astype("float64"))
        hits += (logits.argmax(-1) == targets)[valid].sum()
        total += valid.sum()
        nll -= np.take_along_axis(lp, targets[..., None], -1)[..., 0][valid].sum()
    np.testing.assert_allclose(accuracy.result(), hits / total, rtol=1e-6)
    np.testing.assert_allclose(perplexity.result(), np.exp(nll / total), rtol=1e-5)
    accuracy.reset_state()
    assert float(accuracy.result()) == 0.0


# Three examples (the second has only two real tokens) and their sample weights: one per
# example, with a zero (example 1 must not count at all), or one per token.
WEIGHTED_TARGETS = np.array([[3, 4, 2, 0], [5, 2, 0, 0], [1, 2, 3, 4]])
SAMPLE_WEIGHTS = {
    "per_example": np.array([2.0, 0.0, 0.5], "float32"),
    "per_token": np.array([[1.0, 0.5, 0.0, 3.0], [0.0, 2.0, 1.0, 1.0], [0.25, 0.0, 0.0, 1.0]]),
}


def weighted_token_mean(token_values, targets, sample_weight):
    """NumPy reference: Σ w·m·value / Σ w·m over the tokens, m the non-padding mask."""
    weight = sample_weight[:, None] if sample_weight.ndim == 1 else sample_weight
    weight = np.broadcast_to(weight, targets.shape) * (targets != 0)
    return (token_values * weight).sum() / weight.sum()


def numpy_token_loss(targets, logits, smoothing=0.0):
    lp = log_softmax(logits.astype("float64"))
    nll = -np.take_along_axis(lp, targets[..., None], -1)[..., 0]
    return (1 - smoothing) * nll + smoothing * -lp.mean(-1)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("kind", ["per_example", "per_token"])
def test_loss_sample_weight_gives_weighted_token_mean(kind, smoothing):
    logits = np.random.default_rng(0).normal(size=(3, 4, 6)).astype("float32")
    sample_weight = SAMPLE_WEIGHTS[kind]
    expected = weighted_token_mean(
        numpy_token_loss(WEIGHTED_TARGETS, logits, smoothing), WEIGHTED_TARGETS, sample_weight
    )
    loss = MaskedSequenceLoss(label_smoothing=smoothing)
    np.testing.assert_allclose(
        loss(WEIGHTED_TARGETS, logits, sample_weight=sample_weight), expected, rtol=1e-5
    )


def test_loss_is_zero_when_real_tokens_weigh_nothing():
    import tensorflow as tf

    logits = tf.constant(np.random.default_rng(0).normal(size=(3, 4, 6)), "float32")
    only_padding = (WEIGHTED_TARGETS == 0).astype("float32")  # weight only on padding
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = MaskedSequenceLoss()(WEIGHTED_TARGETS, logits, sample_weight=only_padding)
    assert float(loss) == 0.0
    assert np.all(tape.gradient(loss, logits).numpy() == 0.0)


@pytest.mark.parametrize("shape", [(4,), (3, 5), (3, 4, 2), (3, 4, 1, 1)])
def test_loss_rejects_sample_weight_of_wrong_shape(shape):
    logits = np.zeros((3, 4, 6), "float32")
    with pytest.raises(ValueError, match=rf"\(3, 4\), got shape \({shape[0]},"):
        MaskedSequenceLoss()(WEIGHTED_TARGETS, logits, sample_weight=np.ones(shape, "float32"))


@pytest.mark.parametrize("kind", ["per_example", "per_token"])
def test_fit_with_sample_weight_reports_weighted_token_mean(kind):
    model = keras.Sequential(
        [keras.Input((4,), dtype="int32"), keras.layers.Embedding(6, 3), keras.layers.Dense(6)]
    )
    model.compile(keras.optimizers.SGD(0.1), MaskedSequenceLoss())
    inputs = WEIGHTED_TARGETS[:, ::-1].copy()
    logits = model.predict(inputs, verbose=0)  # the one batch's loss is taken before the step
    history = model.fit(
        inputs,
        WEIGHTED_TARGETS,
        sample_weight=SAMPLE_WEIGHTS[kind],
        batch_size=3,
        shuffle=False,
        verbose=0,
    )
    expected = weighted_token_mean(
        numpy_token_loss(WEIGHTED_TARGETS, logits), WEIGHTED_TARGETS, SAMPLE_WEIGHTS[kind]
    )
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)


def _loss_and_metrics(pad_id=0):
    def accuracy(y_true, y_pred):
        metric = MaskedAccuracy(pad_id=pad_id)
        metric.update_state(y_true, y_pred)
        return metric.result()

    def perplexity(y_true, y_pred):
        metric = Perplexity(pad_id=pad_id)
        metric.update_state(y_true, y_pred)
        return metric.result()

    return {"loss": MaskedSequenceLoss(pad_id=pad_id), "accuracy": accuracy, "ppl": perplexity}


@pytest.mark.parametrize("name", ["loss", "accuracy", "ppl"])
@pytest.mark.parametrize("bad_id", [-2, 6, 100])
def test_target_ids_outside_the_vocabulary_are_refused(name, bad_id):
    # A negative id was read from the end of the vocabulary (a wrong number, no error); an id
    # >= V failed in a gather without naming the targets.
    import tensorflow as tf

    targets, logits = batch()
    targets[0, 1] = bad_id
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"ids in \[0, vocabulary size\)"):
        _loss_and_metrics()[name](targets, logits)


@pytest.mark.parametrize("name", ["loss", "accuracy", "ppl"])
def test_pad_id_outside_the_vocabulary_and_column_targets(name):
    targets, logits = batch()
    expected = _loss_and_metrics()[name](targets, logits)
    shifted = np.where(targets == 0, -1, targets)  # the same batch, padded with -1
    np.testing.assert_allclose(_loss_and_metrics(-1)[name](shifted, logits), expected, rtol=1e-6)
    np.testing.assert_allclose(
        _loss_and_metrics()[name](targets[..., None], logits), expected, rtol=1e-6
    )


@pytest.mark.parametrize("name", ["loss", "accuracy", "ppl"])
def test_targets_and_predictions_of_other_lengths_are_named(name):
    targets, logits = batch()
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(2, 4, 6\)"):
        _loss_and_metrics()[name](targets[:, :3], logits)

"""Round 17: round trips of unusual but legitimate configurations, checked against the
models' own teacher-forced scores and NumPy references (no defect found this round: these
pin the behaviour that was probed)."""

import keras
import numpy as np
import pytest

from keras_seq.decoding import GreedySearch
from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import ClassF1Score, MaskedAccuracy, Perplexity
from keras_seq.models import Seq2Seq, SequenceTagger

SOURCE = np.array([[3, 4, 5, 6, 0], [5, 3, 0, 0, 0], [7, 0, 0, 0, 0]], "int32")


def log_softmax(logits):
    logits = logits - logits.max(-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


@pytest.mark.parametrize(
    "options",
    [
        dict(
            cell="gru",
            attention="multi_head",
            encoder_layers=2,
            decoder_layers=2,
            residual=True,
            bridge="copy",
            tie_embeddings=True,
        ),
        dict(units=1, bidirectional_encoder=False, attention="additive", bridge="zeros"),
        dict(
            units=3,
            bidirectional_encoder=False,
            attention="multi_head",
            attention_style="bahdanau",
        ),
        dict(embedding_dim=2, attention="general", attention_style="bahdanau", tie_embeddings=True),
    ],
)
def test_greedy_log_probabilities_are_the_teacher_forced_scores(options):
    """The decoder's single-step path (decoding) and its sequence path (teacher forcing)
    give one model: a greedy translation's log-probability is the score of its ids."""
    options = {"embedding_dim": 8, "units": 8, **options}
    keras.utils.set_random_seed(1)
    model = Seq2Seq(9, 9, **options)
    model.build()
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(size=weight.shape) * 0.7)
    result = model.decode(SOURCE, GreedySearch(), max_length=6)
    ids, lengths = result.ids[:, 0].numpy(), result.lengths[:, 0].numpy()
    target_in, target_out = np.zeros_like(ids), np.zeros_like(ids)
    for row, length in enumerate(lengths):
        target_out[row, :length] = ids[row, :length]
        target_in[row, :length] = [1, *ids[row, : length - 1]]
    scores = model.sequence_log_probability(SOURCE, target_in, target_out).numpy()
    np.testing.assert_allclose(result.log_probs[:, 0], scores, atol=1e-4)
    assert np.all(scores < 0)


def test_a_reloaded_bfloat16_translator_of_one_token_targets_trains_on_as_the_original(tmp_path):
    """Batch 1, dict inputs, one-token targets, mixed_bfloat16, tied GRU with multi-head
    attention: the reloaded model predicts, evaluates (the label-smoothed token mean of
    NumPy) and trains one more epoch exactly as the original."""
    rng = np.random.default_rng(0)
    source = rng.integers(3, 7, (3, 2)).astype("int32")
    source[2, 1] = 0
    target_in = np.ones((3, 1), "int32")
    target_out = np.array([[4], [2], [5]], "int32")
    x = {"source": source, "target": target_in}
    keras.utils.set_random_seed(0)
    model = Seq2Seq(
        7,
        7,
        embedding_dim=4,
        units=4,
        cell="gru",
        attention="multi_head",
        tie_embeddings=True,
        dtype="mixed_bfloat16",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=MaskedSequenceLoss(label_smoothing=0.2),
        weighted_metrics=[MaskedAccuracy()],
    )
    model.fit(x, target_out, batch_size=1, epochs=1, verbose=0, shuffle=False)
    path = tmp_path / "translator.keras"
    model.save(path)
    keras.backend.clear_session()
    loaded = keras.saving.load_model(path)
    assert loaded.dtype_policy.name == "mixed_bfloat16"

    logits = np.asarray(model.predict(x, verbose=0), np.float32)
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0), np.float32), logits)
    log_probs = log_softmax(logits.astype(np.float64))
    picked = np.take_along_axis(log_probs, target_out[..., None], -1)[..., 0]
    expected = np.mean(0.8 * -picked + 0.2 * -log_probs.mean(-1))
    for trained in (model, loaded):
        values = trained.evaluate(x, target_out, batch_size=3, verbose=0, return_dict=True)
        np.testing.assert_allclose(values["loss"], expected, rtol=1e-5)
        hits = logits.argmax(-1) == target_out
        np.testing.assert_allclose(values["masked_accuracy"], hits.mean(), rtol=1e-6)

    for trained in (model, loaded):
        trained.fit(x, target_out, batch_size=1, epochs=1, verbose=0, shuffle=False)
    for before, after in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


def test_tagger_evaluate_with_example_weights_is_the_numpy_weighted_token_mean():
    rng = np.random.default_rng(0)
    x = rng.integers(3, 9, (5, 4)).astype("int32")
    x[0, 2:] = 0
    x[3, 1:] = 0
    y = rng.integers(1, 4, (5, 4)).astype("int32")
    y[x == 0] = 0
    weights = np.array([1.0, 2.0, 0.5, 3.0, 0.0])
    keras.utils.set_random_seed(0)
    model = SequenceTagger(["a", "b", "c"], 9, embedding_dim=4, units=4)
    model.compile(
        loss=MaskedSequenceLoss(label_smoothing=0.2),
        weighted_metrics=[MaskedAccuracy(), Perplexity()],
    )
    values = model.evaluate(x, y, sample_weight=weights, batch_size=5, verbose=0, return_dict=True)
    logits = model.predict(x, verbose=0).astype(np.float64)
    log_probs = log_softmax(logits)
    token_weights = (y != 0) * weights[:, None]
    nll = -np.take_along_axis(log_probs, y[..., None], -1)[..., 0]
    smoothed = 0.8 * nll + 0.2 * -log_probs.mean(-1)

    def mean(values):
        return (values * token_weights).sum() / token_weights.sum()

    np.testing.assert_allclose(values["loss"], mean(smoothed), rtol=1e-5)
    np.testing.assert_allclose(values["masked_accuracy"], mean(logits.argmax(-1) == y), rtol=1e-6)
    np.testing.assert_allclose(values["perplexity"], np.exp(mean(nll)), rtol=1e-5)


@pytest.mark.parametrize("metric_class", [MaskedAccuracy, Perplexity])
def test_an_all_padding_batch_counts_for_nothing(metric_class):
    rng = np.random.default_rng(0)
    padding, scores = np.zeros((2, 3), "int32"), rng.normal(size=(2, 3, 5))
    targets = np.array([[1, 2, 0], [3, 0, 0]])
    other_scores = rng.normal(size=(2, 3, 5))
    weights = np.array([2.0, 0.5])
    metric = metric_class()
    metric.update_state(padding, scores)
    assert float(metric.result()) == 0.0
    metric.update_state(targets, other_scores, sample_weight=weights)
    token_weights = (targets != 0) * weights[:, None]
    if metric_class is MaskedAccuracy:
        expected = ((other_scores.argmax(-1) == targets) * token_weights).sum()
    else:
        nll = -np.take_along_axis(log_softmax(other_scores), targets[..., None], -1)[..., 0]
        expected = np.exp((nll * token_weights).sum() / token_weights.sum())
    if metric_class is MaskedAccuracy:
        expected = expected / token_weights.sum()
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert float(MaskedSequenceLoss(label_smoothing=0.3)(padding, scores)) == 0.0


@pytest.mark.parametrize("average", ["weighted", "micro", "macro"])
def test_weighted_class_f1_is_the_numpy_confusion_matrix_f1(average):
    rng = np.random.default_rng(0)
    labels, scores, weights = rng.integers(0, 3, 20), rng.normal(size=(20, 3)), rng.random(20)
    metric = ClassF1Score(3, average=average)
    metric.update_state(labels[:7], scores[:7], weights[:7])
    metric.update_state(labels[7:], scores[7:], weights[7:])
    confusion = np.zeros((3, 3))
    np.add.at(confusion, (labels, scores.argmax(-1)), weights)
    correct, support = np.diag(confusion), confusion.sum(1)
    f1 = 2 * correct / (confusion.sum(0) + support)
    expected = {
        "macro": f1.mean(),
        "weighted": (f1 * support).sum() / support.sum(),
        "micro": correct.sum() / confusion.sum(),
    }[average]
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)

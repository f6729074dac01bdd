import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import ArgmaxSelector, TemperatureSampler, TopKSampler, TopPSampler

# 99.9% quantiles of the chi-square distribution, by degrees of freedom.
CHI_SQUARE_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52}
LOGITS = np.array([1.2, -0.3, 0.4, 2.0, -1.5, 0.9], np.float32)


def softmax(logits):
    exponentials = np.exp(np.asarray(logits, np.float64) - np.max(logits))
    return exponentials / exponentials.sum()


def nucleus(probabilities, p):
    """Ids of the smallest most-likely prefix whose mass reaches p."""
    order = np.argsort(-probabilities, kind="stable")
    mass_before = np.cumsum(probabilities[order]) - probabilities[order]
    return set(order[mass_before < p].tolist())


def assert_samples_follow(selector, expected, draws=20000, seed=(3, 4)):
    """Chi-square test of `draws` samples of one row of LOGITS against `expected`."""
    logits = tf.constant(np.tile(LOGITS, (draws, 1)))
    ids = selector(logits, seed=tf.constant(seed)).numpy()
    counts = np.bincount(ids, minlength=len(LOGITS))
    support = expected > 0
    assert counts[~support].sum() == 0, f"drew tokens outside the support: {counts}"
    expected_counts = expected[support] * draws
    statistic = ((counts[support] - expected_counts) ** 2 / expected_counts).sum()
    assert statistic < CHI_SQUARE_999[int(support.sum()) - 1], (counts, expected_counts)


def test_argmax_selector_picks_the_largest_logit_lowest_id_on_ties():
    logits = tf.constant([[0.1, 3.0, -1.0], [2.0, 2.0, 1.0], [-5.0, -4.0, -4.5]])
    np.testing.assert_array_equal(ArgmaxSelector()(logits), [1, 0, 1])
    assert ArgmaxSelector()(logits).dtype == tf.int32


def test_temperature_sampler_draws_from_the_scaled_softmax():
    for temperature in (1.0, 0.5, 2.0):
        expected = softmax(LOGITS / temperature)
        assert_samples_follow(TemperatureSampler(temperature), expected)


def test_top_k_keeps_exactly_k_tokens():
    logits = tf.constant([LOGITS, [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]])
    filtered = TopKSampler(k=2).filter_logits(logits).numpy()
    np.testing.assert_array_equal(np.isfinite(filtered[0]), [1, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(np.isfinite(filtered[1]), [1, 1, 0, 0, 0, 0])  # ties: lowest ids
    np.testing.assert_allclose(filtered[0, [0, 3]], LOGITS[[0, 3]])
    whole = TopKSampler(k=50, temperature=2.0).filter_logits(logits).numpy()
    np.testing.assert_allclose(whole, logits.numpy() / 2.0)


def test_top_k_sampler_draws_from_the_renormalized_top_k():
    expected = softmax(LOGITS / 0.8)
    expected[np.argsort(-LOGITS)[3:]] = 0.0
    assert_samples_follow(TopKSampler(k=3, temperature=0.8), expected / expected.sum())


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.62, 0.9, 0.999, 1.0])
def test_top_p_keeps_the_minimal_nucleus(p):
    probabilities = softmax(LOGITS)
    filtered = TopPSampler(p=p).filter_logits(tf.constant([LOGITS])).numpy()[0]
    kept = set(np.flatnonzero(np.isfinite(filtered)).tolist())
    assert kept == nucleus(probabilities, p)
    mass = probabilities[sorted(kept)].sum()
    assert mass >= min(p, 1.0) - 1e-6
    smallest = min(probabilities[sorted(kept)])
    assert mass - smallest < p  # dropping any kept token falls short of p
    np.testing.assert_allclose(filtered[sorted(kept)], LOGITS[sorted(kept)])


def test_top_p_sampler_draws_from_the_renormalized_nucleus():
    temperature, p = 1.3, 0.8
    probabilities = softmax(LOGITS / temperature)
    kept = sorted(nucleus(probabilities, p))
    assert 2 <= len(kept) < len(LOGITS)
    expected = np.zeros_like(probabilities)
    expected[kept] = probabilities[kept] / probabilities[kept].sum()
    assert_samples_follow(TopPSampler(p=p, temperature=temperature), expected)


def test_seeded_samples_are_reproducible_and_seeds_differ():
    logits = tf.constant(np.tile(LOGITS, (64, 1)))
    for sampler in (TemperatureSampler(1.0), TopKSampler(4), TopPSampler(0.9)):
        first = sampler(logits, seed=tf.constant([5, 6])).numpy()
        again = sampler(logits, seed=tf.constant([5, 6])).numpy()
        other = sampler(logits, seed=tf.constant([5, 7])).numpy()
        np.testing.assert_array_equal(first, again)
        assert (first != other).any()


def test_samplers_serialize():
    for selector in (
        ArgmaxSelector(),
        TemperatureSampler(0.7),
        TopKSampler(5, 0.9),
        TopPSampler(0.8, 1.2),
    ):
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(selector)
        )
        assert type(revived) is type(selector)
        assert revived.get_config() == selector.get_config()


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda: TemperatureSampler(0.0), "temperature"),
        (lambda: TemperatureSampler(-1.0), "temperature"),
        (lambda: TopKSampler(0), "k"),
        (lambda: TopKSampler(2, temperature=0.0), "temperature"),
        (lambda: TopPSampler(0.0), "p"),
        (lambda: TopPSampler(1.5), "p"),
    ],
)
def test_bad_arguments(build, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        build()


def test_bad_logits():
    with pytest.raises(ValueError, match="logits"):
        ArgmaxSelector()(tf.zeros([2, 3, 4]))
    with pytest.raises(TypeError, match="logits"):
        TopKSampler(2)(tf.zeros([2, 3], tf.int32), seed=tf.constant([1, 2]))
    with pytest.raises(TypeError, match="k"):
        TopKSampler(2.5)


SAMPLERS = [TemperatureSampler(), TemperatureSampler(0.5), TopKSampler(2), TopPSampler(0.9)]
UNUSABLE_ROWS = {
    "all -inf": [-np.inf, -np.inf, -np.inf],
    "NaN": [0.0, np.nan, 1.0],
    "+inf": [np.inf, 0.0, 0.0],
}


@pytest.mark.parametrize("row", list(UNUSABLE_ROWS), ids=list(UNUSABLE_ROWS))
@pytest.mark.parametrize("sampler", SAMPLERS, ids=repr)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_samplers_refuse_rows_they_cannot_draw_from(sampler, row, compiled):
    # stateless_categorical answers id V (out of range) for such a row; the samplers used to
    # pass it on, and a decoder then failed in a gather far from the cause.
    logits = tf.constant([[0.0, 2.0, 1.0], UNUSABLE_ROWS[row]], tf.float32)
    draw = tf.function(sampler.__call__) if compiled else sampler
    with pytest.raises(tf.errors.InvalidArgumentError, match="no token can be drawn"):
        draw(logits, seed=tf.constant([1, 2]))


@pytest.mark.parametrize("sampler", SAMPLERS, ids=repr)
def test_samplers_draw_only_valid_ids_beside_masked_tokens(sampler):
    # -inf on some tokens (a mask) is fine: only the finite ones are drawn.
    logits = tf.constant(np.tile([[-np.inf, 0.3, -np.inf, 0.1]], (500, 1)), tf.float32)
    ids = sampler(logits, seed=tf.constant([5, 6])).numpy()
    assert set(ids.tolist()) <= {1, 3}


@pytest.mark.parametrize("temperature", [1e-40, 1e-30, 1e-8])
def test_tiny_temperatures_pick_the_argmax(temperature):
    # logits / 1e-40 overflowed to inf (and 1e-40 is flushed to 0 on the CPU: 0 / 0 = NaN),
    # so the sampler answered the invalid id V; as temperature -> 0 the draw is the argmax.
    logits = tf.constant([[0.0, 1e-30, 2e-30, -5.0], [3.0, 1.0, 2.0, 0.0]], tf.float32)
    ids = TemperatureSampler(temperature)(logits, seed=tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(ids, [2, 0])


@pytest.mark.parametrize("row", ["all -inf", "NaN best"])
def test_argmax_refuses_a_row_without_a_finite_best_logit(row):
    bad = [-np.inf] * 3 if row == "all -inf" else [np.nan, -np.inf, -np.inf]
    logits = tf.constant([[0.0, 2.0, 1.0], bad], tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="no finite best value"):
        ArgmaxSelector()(logits)
    # A +inf logit is a (very) best token, not an error; rows with -inf beside finite values
    # are masks.
    ok = tf.constant([[0.0, np.inf, 1.0], [-np.inf, 0.5, -np.inf]], tf.float32)
    np.testing.assert_array_equal(ArgmaxSelector()(ok).numpy(), [1, 1])

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.pipelines import PipelineStatistics, translation_dataset
from keras_seq.text import WordPieceTokenizer
from tests.pipelines.helpers import ids
from tests.text.corpus import GERMAN_ENGLISH


def test_exact_values_shifts_and_masks(tokenizers):
    german, english = tokenizers
    pairs = [("Ich bin müde.", "I am tired."), ("Hast du Hunger?", "Are you hungry?")]
    dataset, statistics = translation_dataset(pairs, german, english, batch_size=2, shuffle=False)
    assert statistics == PipelineStatistics(num_examples=2, num_kept=2, num_dropped=0, num_empty=0)
    batches = list(dataset)
    assert len(batches) == 1
    (source, target_in), target_out = batches[0]
    assert source.dtype == target_in.dtype == target_out.dtype == tf.int32
    ich, hast = ids(german, "Ich bin müde."), ids(german, "Hast du Hunger?")
    i_am, are = ids(english, "I am tired."), ids(english, "Are you hungry?")
    np.testing.assert_array_equal(source, [ich, hast])
    np.testing.assert_array_equal(target_in, [[1] + i_am, [1] + are])
    np.testing.assert_array_equal(target_out, [i_am + [2], are + [2]])

    # Unequal lengths: padding with 0 on the same positions of target_in and target_out.
    pairs = [
        ("Guten Morgen!", "Good morning!"),
        ("Das ist zu groß für mich.", "That is too big for me."),
    ]
    (source, target_in), target_out = next(
        iter(translation_dataset(pairs, german, english, batch_size=2, shuffle=False)[0])
    )
    good = ids(english, "Good morning!")
    that = ids(english, "That is too big for me.")
    width = len(that) + 1
    np.testing.assert_array_equal(target_in[0], [1] + good + [0] * (width - len(good) - 1))
    np.testing.assert_array_equal(target_out[0], good + [2] + [0] * (width - len(good) - 1))
    np.testing.assert_array_equal(source[0, 3:], [0] * (source.shape[1] - 3))
    mask = keras.layers.Embedding(100, 2, mask_zero=True).compute_mask(target_in)
    np.testing.assert_array_equal(mask, target_out.numpy() != 0)
    np.testing.assert_array_equal(mask, target_in.numpy() != 0)


def test_length_filter_counts_dropped(tokenizers):
    german, english = tokenizers
    source_lengths = [len(ids(german, g)) for g, _ in GERMAN_ENGLISH]
    target_lengths = [len(ids(english, e)) + 1 for _, e in GERMAN_ENGLISH]
    kept = [s <= 5 and t <= 6 for s, t in zip(source_lengths, target_lengths, strict=True)]
    dataset, statistics = translation_dataset(
        GERMAN_ENGLISH, german, english, 4, max_source_length=5, max_target_length=6, seed=3
    )
    assert statistics.num_examples == len(GERMAN_ENGLISH)
    assert statistics.num_kept == sum(kept) < len(GERMAN_ENGLISH)
    assert statistics.num_dropped == len(GERMAN_ENGLISH) - sum(kept)
    sources = [
        german.detokenize(source[i : i + 1]).numpy()[0]
        for (source, _), _ in dataset
        for i in range(source.shape[0])
    ]
    expected = [
        german.detokenize([ids(german, g)]).numpy()[0]
        for (g, _), k in zip(GERMAN_ENGLISH, kept, strict=True)
        if k
    ]
    assert sorted(sources) == sorted(expected)
    for (source, target_in), _ in dataset:
        assert source.shape[1] <= 5 and target_in.shape[1] <= 6


def _as_lists(dataset, epochs=2):
    result = []
    for _ in range(epochs):
        result.append([[t.numpy().tolist() for t in tf.nest.flatten(batch)] for batch in dataset])
    return result


def test_deterministic_with_seed(tokenizers):
    german, english = tokenizers
    first = _as_lists(translation_dataset(GERMAN_ENGLISH, german, english, 3, seed=11)[0])
    again = _as_lists(translation_dataset(GERMAN_ENGLISH, german, english, 3, seed=11)[0])
    other = _as_lists(translation_dataset(GERMAN_ENGLISH, german, english, 3, seed=12)[0])
    assert first == again
    assert first != other
    assert first[0] != first[1]  # reshuffled each epoch


def test_bucketing_groups_by_length(tokenizers):
    german, english = tokenizers
    dataset, statistics = translation_dataset(
        GERMAN_ENGLISH, german, english, 3, bucket_boundaries=[7, 9], seed=0
    )
    count = 0
    for (source, target_in), _ in dataset:
        lengths = np.maximum(
            (source.numpy() != 0).sum(axis=1), (target_in.numpy() != 0).sum(axis=1)
        )
        buckets = np.digitize(lengths, [7, 9])
        assert len(set(buckets)) == 1, lengths
        count += source.shape[0]
    assert count == statistics.num_kept == len(GERMAN_ENGLISH)


def test_dataset_input_and_subword_tokenizers():
    texts = [text for pair in GERMAN_ENGLISH for text in pair]
    tokenizer = WordPieceTokenizer.from_corpus(texts, vocabulary_size=300)
    pairs = tf.data.Dataset.from_tensor_slices(
        ([g for g, _ in GERMAN_ENGLISH], [e for _, e in GERMAN_ENGLISH])
    )
    dataset, statistics = translation_dataset(pairs, tokenizer, tokenizer, 4, shuffle=False)
    assert statistics.num_kept == len(GERMAN_ENGLISH)
    targets = []
    for (_, target_in), target_out in dataset:
        np.testing.assert_array_equal(target_in[:, 0], 1)
        targets += [s.decode() for s in tokenizer.detokenize(target_out).numpy()]
        targets_again = tokenizer.detokenize(target_in).numpy()
        assert [s.decode() for s in targets_again] == targets[-len(targets_again) :]
    assert targets == [e for _, e in GERMAN_ENGLISH]


def test_fits_a_seq2seq_model(tokenizers):
    german, english = tokenizers
    dataset, _ = translation_dataset(GERMAN_ENGLISH, german, english, 4, seed=1)
    source = keras.Input(shape=(None,), dtype="int32")
    target_in = keras.Input(shape=(None,), dtype="int32")
    _, state = keras.layers.GRU(8, return_state=True)(
        keras.layers.Embedding(german.vocabulary_size, 8, mask_zero=True)(source)
    )
    decoded = keras.layers.GRU(8, return_sequences=True)(
        keras.layers.Embedding(english.vocabulary_size, 8, mask_zero=True)(target_in),
        initial_state=state,
    )
    logits = keras.layers.Dense(english.vocabulary_size)(decoded)
    model = keras.Model([source, target_in], logits)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    assert all(not np.allclose(b, a) for b, a in zip(before, model.get_weights(), strict=True))


def test_bad_arguments(tokenizers):
    german, english = tokenizers
    with pytest.raises(TypeError, match="`source_tokenizer`"):
        translation_dataset(GERMAN_ENGLISH, "german", english, 2)
    with pytest.raises(ValueError, match="`batch_size`"):
        translation_dataset(GERMAN_ENGLISH, german, english, 0)
    with pytest.raises(ValueError, match="`bucket_boundaries`"):
        translation_dataset(GERMAN_ENGLISH, german, english, 2, bucket_boundaries=[5, 3])
    with pytest.raises(TypeError, match="`pairs`.*entry 1"):
        translation_dataset([("a", "b"), ("c",)], german, english, 2)
    with pytest.raises(TypeError, match="`pairs`"):
        translation_dataset(tf.data.Dataset.range(3), german, english, 2)


def test_cardinality_is_the_number_of_batches(tokenizers):
    german, english = tokenizers
    for boundaries in (None, [7, 9], [3]):
        dataset, statistics = translation_dataset(
            GERMAN_ENGLISH, german, english, 3, bucket_boundaries=boundaries, max_source_length=7
        )
        assert int(dataset.cardinality()) == len(list(dataset))
        assert sum(int(batch[1].shape[0]) for batch in dataset) == statistics.num_kept


def test_cache_and_buffer_do_not_change_batches(tokenizers):
    german, english = tokenizers
    cached = _as_lists(translation_dataset(GERMAN_ENGLISH, german, english, 5, seed=4)[0])
    uncached = _as_lists(
        translation_dataset(GERMAN_ENGLISH, german, english, 5, seed=4, cache=False)[0]
    )
    assert cached == uncached
    ordered = _as_lists(translation_dataset(GERMAN_ENGLISH, german, english, 5, shuffle=False)[0])
    assert ordered[0] == ordered[1]  # no shuffle: corpus order, every epoch
    first_source = ordered[0][0][0][0]
    assert first_source == ids(german, GERMAN_ENGLISH[0][0]) + [0] * (
        len(first_source) - len(ids(german, GERMAN_ENGLISH[0][0]))
    )

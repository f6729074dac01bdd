"""Round-6 audit of the pipelines: batch and shuffle sizes beyond the corpus."""

import collections

import pytest

from keras_seq.pipelines import (
    classification_dataset,
    language_model_dataset,
    tagging_dataset,
    translation_dataset,
)
from tests.pipelines.helpers import ids

TEXTS = ["Er hat es tun müssen.", "He had to do it.", "Ja.", "Er hat es.", "Nein, nein."]


def _rows(dataset):
    """Every example of one epoch as a tuple of id lists without padding, in order."""
    rows = []
    for batch in dataset:
        first = batch[0][0] if isinstance(batch[0], tuple) else batch[0]
        for index in range(first.shape[0]):
            row = first[index].numpy().tolist()
            rows.append(tuple(x for x in row if x))
    return rows


@pytest.mark.parametrize("bucket_boundaries", [None, [4, 6]])
def test_batch_size_beyond_the_corpus_gives_one_batch_per_bucket(tokenizers, bucket_boundaries):
    # tf.data reserves room for a whole batch up front: `batch_size=2**31 - 1` (or 2**30)
    # aborted the Python process with std::bad_alloc while iterating.
    german, _ = tokenizers
    dataset, statistics = language_model_dataset(
        TEXTS,
        german,
        batch_size=2**31 - 1,
        sequence_length=50,
        shuffle=False,
        bucket_boundaries=bucket_boundaries,
    )
    assert statistics.num_kept == 5
    batches = [ids_in.numpy().tolist() for ids_in, _ in dataset]
    # Lengths of ids_in (<s> included): 7, 7, 3, 5, 5 -> buckets [<4], [4, 6), [>=6].
    expected_batches = 1 if bucket_boundaries is None else 3
    assert len(batches) == int(dataset.cardinality()) == expected_batches
    got = collections.Counter(tuple(x for x in row if x) for batch in batches for row in batch)
    want = collections.Counter(tuple([1] + ids(german, text)) for text in TEXTS)
    assert got == want


def test_shuffle_buffer_beyond_the_corpus_shuffles_as_the_whole_corpus(tokenizers):
    # `shuffle_buffer_size=2**40` crashed the process (segmentation fault in tf.data's
    # shuffle). A buffer larger than the corpus now shuffles exactly as the default (the
    # whole corpus), epoch after epoch.
    german, english = tokenizers
    pairs = [(text, text) for text in TEXTS] * 4

    def epochs(**kwargs):
        dataset, _ = translation_dataset(
            pairs, german, german, batch_size=3, seed=7, bucket_boundaries=[5], **kwargs
        )
        return [_rows(dataset) for _ in range(3)]

    huge = epochs(shuffle_buffer_size=2**40)
    assert huge == epochs()
    assert huge[0] != huge[1]  # reshuffled every epoch
    for epoch in huge:
        assert collections.Counter(epoch) == collections.Counter(
            tuple(ids(german, text)) for text, _ in pairs
        )


def test_huge_sizes_with_the_other_pipelines(tokenizers):
    german, _ = tokenizers
    dataset, _ = classification_dataset(
        [(text, i) for i, text in enumerate(TEXTS)],
        german,
        batch_size=2**40,
        seed=1,
        shuffle_buffer_size=2**40,
    )
    ((token_ids, labels),) = list(dataset)
    assert sorted(labels.numpy().tolist()) == [0, 1, 2, 3, 4]
    dataset, _ = tagging_dataset(
        [(["Ja", "."], ["X", "."])], german, ["X", "."], batch_size=2**62, shuffle_buffer_size=2**62
    )
    ((token_ids, tag_ids),) = list(dataset)
    assert tag_ids.numpy().tolist() == [[1, 2]]
    assert token_ids.numpy().tolist() == [ids(german, "Ja.")]

"""Round-12 audit of the pipelines: NumPy integer sizes and seeds, and flags that are not
bools."""

import numpy as np
import pytest

from keras_seq.pipelines import (
    classification_dataset,
    language_model_dataset,
    tagging_dataset,
    translation_dataset,
)
from tests.pipelines.helpers import ids

TEXTS = ["Er hat es tun müssen.", "He had to do it.", "Ja.", "Er hat es.", "Nein, nein."]


def _batches(dataset):
    """One epoch as nested lists of ids, batch by batch."""

    def as_lists(value):
        if isinstance(value, tuple):
            return tuple(as_lists(part) for part in value)
        return value.numpy().tolist()

    return [as_lists(batch) for batch in dataset]


def test_numpy_integer_sizes_seed_and_boundaries_are_taken(tokenizers):
    # `lengths.max()` or `len(texts) // 4` of an array are np.int64. Before: "`batch_size`
    # must be a positive int, got np.int64(2)", "`seed` must be an int or None, got
    # np.int64(7)", and the same for max_length, shuffle_buffer_size and bucket_boundaries.
    german, english = tokenizers
    as_numpy = dict(
        batch_size=np.int64(2),
        seed=np.int64(7),
        shuffle_buffer_size=np.int32(3),
        bucket_boundaries=list(np.array([4, 6])),
    )
    as_python = dict(batch_size=2, seed=7, shuffle_buffer_size=3, bucket_boundaries=[4, 6])
    builds = [
        lambda kw, n: language_model_dataset(TEXTS, german, sequence_length=n, **kw),
        lambda kw, n: classification_dataset(
            [(text, i) for i, text in enumerate(TEXTS)], german, max_length=n, **kw
        ),
        lambda kw, n: translation_dataset(
            [(text, text) for text in TEXTS],
            german,
            german,
            max_source_length=n,
            max_target_length=n,
            **kw,
        ),
        lambda kw, n: tagging_dataset(
            [(["Ja", "."], ["X", "."]), (["Nein", ",", "nein", "."], ["X", ".", "X", "."])],
            german,
            ["X", "."],
            max_length=n,
            **kw,
        ),
    ]
    for build in builds:
        dataset, statistics = build(as_numpy, np.int64(6))
        twin, twin_statistics = build(as_python, 6)
        assert statistics == twin_statistics
        assert _batches(dataset) == _batches(twin)
    # The language model keeps the texts whose `<s> y` has at most 6 ids, in batches of at
    # most 2 per bucket ([<4], [4, 6), [>=6]).
    dataset, statistics = builds[0](as_numpy, np.int64(6))
    expected = [[1] + ids(german, text) for text in TEXTS if len(ids(german, text)) < 6]
    assert (statistics.num_kept, statistics.num_dropped) == (len(expected), 5 - len(expected))
    batches = _batches(dataset)
    assert all(len(ids_in) <= 2 for ids_in, _ in batches)
    kept = [[x for x in row if x] for ids_in, _ in batches for row in ids_in]
    assert sorted(kept) == sorted(expected) and len(expected) == 3
    # Not integers, still refused.
    for bad in (np.True_, np.float64(2.0), 2.0):
        with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
            language_model_dataset(TEXTS, german, bad, 8)
    with pytest.raises(TypeError, match="`seed` must be an int or None"):
        language_model_dataset(TEXTS, german, 2, 8, seed=np.True_)
    with pytest.raises(ValueError, match="`bucket_boundaries` must be None"):
        language_model_dataset(TEXTS, german, 2, 8, bucket_boundaries=[np.float64(3.0)])


def test_flags_that_are_not_bools_are_refused(tokenizers):
    # Before: `shuffle="False"` shuffled and `cache="no"` cached without a word;
    # `add_start="False"` put <s> first and then failed while the pipeline was built with
    # "invalid literal for int() with base 10: 'False'", `add_start=None` with "int()
    # argument must be ... not 'NoneType'".
    german, _ = tokenizers
    labelled = [("Ja.", 1), ("Nein, nein.", 0)]
    for name, value in (("add_start", "False"), ("add_end", None), ("shuffle", "False")):
        with pytest.raises(TypeError, match=f"`{name}` must be a bool, got"):
            classification_dataset(labelled, german, 2, **{name: value})
    for name, value in (("shuffle", "False"), ("cache", "no"), ("shuffle", 0)):
        with pytest.raises(TypeError, match=f"`{name}` must be a bool, got"):
            language_model_dataset(TEXTS, german, 2, 8, **{name: value})
        with pytest.raises(TypeError, match=f"`{name}` must be a bool, got"):
            translation_dataset([("Ja.", "Ja.")], german, german, 2, **{name: value})
        with pytest.raises(TypeError, match=f"`{name}` must be a bool, got"):
            tagging_dataset([(["Ja"], ["X"])], german, ["X"], 2, **{name: value})
    # NumPy bools are bools.
    dataset, _ = classification_dataset(
        labelled, german, 2, add_start=np.True_, add_end=np.False_, shuffle=np.False_
    )
    token_ids, labels = next(iter(dataset))
    assert labels.numpy().tolist() == [1, 0]
    assert token_ids.numpy().tolist() == [
        [1] + ids(german, "Ja.") + [0, 0],
        [1] + ids(german, "Nein, nein."),
    ]

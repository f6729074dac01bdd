"""Round-18 audit of the pipelines and readers: bucket boundaries given as a NumPy array or a
range, a Keras-style dict-of-features classification dataset, list inputs with NumPy array
rows, NumPy integer columns and bools in the readers, and the column of a bad byte in a CSV
row."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.datasets import (
    LoadResult,
    read_classification_csv,
    read_conll,
    read_parallel_tsv,
    read_text,
)
from keras_seq.pipelines import (
    classification_dataset,
    language_model_dataset,
    tagging_dataset,
    translation_dataset,
)
from tests.pipelines.helpers import ids

TEXTS = [
    "Ja.",
    "Er hat es tun müssen.",
    "Nein, nein.",
    "He had to do it.",
    "Er hat es.",
    "Ja, ja, ja.",
    "Nein.",
]


def _batches(dataset):
    return [tuple(part.numpy().tolist() for part in batch) for batch in dataset]


def test_bucket_boundaries_as_numpy_array_or_range(tokenizers):
    # Before: "`bucket_boundaries` must be None or a non-empty increasing list of positive
    # ints ..., got array([3, 5])" (and the same for range(3, 6, 2)), though both are one.
    german, _ = tokenizers
    build = dict(batch_size=2, sequence_length=16, shuffle=False)
    reference, reference_statistics = language_model_dataset(
        TEXTS, german, bucket_boundaries=[3, 5], **build
    )
    expected = _batches(reference)
    for boundaries in (np.array([3, 5]), np.array([3, 5], np.int32), range(3, 6, 2), (3, 5)):
        dataset, statistics = language_model_dataset(
            TEXTS, german, bucket_boundaries=boundaries, **build
        )
        assert statistics == reference_statistics
        assert _batches(dataset) == expected
    # NumPy reference of the bucketing: every `<s> y` row is in a batch of its own bucket
    # ([<3], [3, 5), [>=5] ids), padded with 0 to the longest row of that batch.
    rows = [[1] + ids(german, text) for text in TEXTS]
    bucket = [int(np.searchsorted([3, 5], len(row), side="right")) for row in rows]
    seen = []
    for ids_in, ids_out in expected:
        batch = np.array(ids_in)
        lengths = (batch != 0).sum(axis=1)
        assert batch.shape == (len(ids_in), lengths.max()) and len(ids_in) <= 2
        kept = [row[:length] for row, length in zip(batch.tolist(), lengths, strict=True)]
        assert len({bucket[rows.index(row)] for row in kept}) == 1
        np.testing.assert_array_equal(np.array(ids_out)[batch == 0], 0)
        seen += kept
    assert sorted(seen) == sorted(rows)
    # Still refused: arrays of another rank or dtype, and decreasing ones.
    for bad in (np.array([[3, 5]]), np.array([3.0, 5.0]), np.array([True]), np.array([5, 3])):
        with pytest.raises(ValueError, match="`bucket_boundaries` must be None"):
            language_model_dataset(TEXTS, german, bucket_boundaries=bad, **build)


def test_classification_dict_of_features_dataset_is_a_type_error(tokenizers):
    # Before: AttributeError: 'dict' object has no attribute 'dtype' (Keras' usual
    # `({"text": texts}, labels)` dataset), and the same for a tuple of features.
    german, _ = tokenizers
    texts, labels = ["Ja.", "Nein."], [1, 0]
    for features in ({"text": texts}, (texts,)):
        dataset = tf.data.Dataset.from_tensor_slices((features, labels))
        with pytest.raises(TypeError, match=r"must yield \(tf.string scalar, integer scalar\)"):
            classification_dataset(dataset, german, 2)
    dataset = tf.data.Dataset.from_tensor_slices((texts, {"label": labels}))
    with pytest.raises(TypeError, match=r"must yield \(tf.string scalar, integer scalar\)"):
        classification_dataset(dataset, german, 2)
    # The plain pair still reads.
    dataset, statistics = classification_dataset(
        tf.data.Dataset.from_tensor_slices((texts, labels)), german, 2, shuffle=False
    )
    token_ids, batch_labels = next(iter(dataset))
    assert batch_labels.numpy().tolist() == [1, 0] and statistics.num_kept == 2
    assert token_ids.numpy().tolist() == [ids(german, "Ja."), ids(german, "Nein.")]


def _write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


def test_readers_take_numpy_integer_columns_and_numpy_bools(tmp_path):
    # Before: "source_column must be an int, got np.int64(1)", the same for the CoNLL and
    # CSV columns, and "strict must be True or False, got np.False_", while the pipelines
    # take NumPy integers and bools.
    tsv = _write(tmp_path / "fra.txt", "Go.\tVa !\tCC-BY\nHi.\tSalut !\tCC-BY\nbad\n")
    result = read_parallel_tsv(tsv, np.int64(1), np.int32(0), strict=np.False_)
    assert result == LoadResult(
        examples=[("Va !", "Go."), ("Salut !", "Hi.")],
        skipped=[(str(tsv), 3, "expected 3 tab-separated columns, found 1")],
    )
    assert result == read_parallel_tsv(tsv, 1, 0, strict=False)
    conllu = _write(
        tmp_path / "a.conllu",
        "# text = Ja.\n1\tJa\tja\tINTJ\t_\t_\t0\troot\t_\t_\n"
        "2\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_\n\n",
    )
    result = read_conll(conllu, word_column=np.int64(1), tag_column=np.int64(3))
    assert result == LoadResult(examples=[(["Ja", "."], ["INTJ", "PUNCT"])], skipped=[])
    csv_file = _write(tmp_path / "a.csv", '"Ja, ja.",1\nNein.,0\n')
    result = read_classification_csv(csv_file, np.int64(0), np.int64(-1), strict=np.True_)
    assert result.examples == [("Ja, ja.", "1"), ("Nein.", "0")]
    header = _write(tmp_path / "h.csv", 'label,text\n1,"Ja, ja."\n')
    assert read_classification_csv(header, np.str_("text"), np.int64(0)).examples == [
        ("Ja, ja.", "1")
    ]
    assert read_text(_write(tmp_path / "a.txt", "Ja.\n"), strict=np.True_).examples == ["Ja."]
    # Bools and floats are still refused, as before.
    for bad in (np.True_, True, np.float64(1.0)):
        with pytest.raises(TypeError, match="source_column must be an int"):
            read_parallel_tsv(tsv, bad, 0)
        with pytest.raises(TypeError, match="tag_column must be an int"):
            read_conll(conllu, 1, bad)
        with pytest.raises(TypeError, match="text_column must be a column name"):
            read_classification_csv(csv_file, bad, 1)
    with pytest.raises(TypeError, match="strict must be True or False"):
        read_text(tsv, strict=np.int64(1))


def test_list_inputs_with_numpy_array_rows(tokenizers):
    # Before: "`pairs` must hold (str, str) tuples; entry 0 is array(['Ja.', 'Yes.'], ...)"
    # for the rows of `df[["de", "en"]].to_numpy()`, and the same for classification pairs
    # and for tagged sentences whose tokens and tags are NumPy arrays.
    german, english = tokenizers
    pairs = [("Ja.", "He had to do it."), ("Er hat es.", "Nein.")]
    twins = [
        (
            translation_dataset(np.array(pairs, dtype=object), german, english, 2, shuffle=False),
            translation_dataset(pairs, german, english, 2, shuffle=False),
        ),
        (
            classification_dataset(
                np.array([("Ja.", 1), ("Nein.", 0)], dtype=object), german, 2, shuffle=False
            ),
            classification_dataset([("Ja.", 1), ("Nein.", 0)], german, 2, shuffle=False),
        ),
        (
            tagging_dataset([(np.array(["Ja", "."]), np.array(["X", "."]))], german, ["X", "."], 2),
            tagging_dataset([(["Ja", "."], ["X", "."])], german, ["X", "."], 2),
        ),
    ]
    for (dataset, statistics), (twin, twin_statistics) in twins:
        assert statistics == twin_statistics
        assert [tf.nest.map_structure(lambda t: t.numpy().tolist(), b) for b in dataset] == [
            tf.nest.map_structure(lambda t: t.numpy().tolist(), b) for b in twin
        ]
    (source_ids, target_in), target_out = next(iter(twins[0][0][0]))
    sources = [ids(german, "Ja."), ids(german, "Er hat es.")]
    targets = [ids(english, "He had to do it.") + [2], ids(english, "Nein.") + [2]]
    assert source_ids.numpy().tolist() == [row + [0] * (4 - len(row)) for row in sources]
    assert target_out.numpy().tolist() == [row + [0] * (7 - len(row)) for row in targets]
    # Rows that are no pairs are still refused, naming the entry.
    with pytest.raises(TypeError, match="entry 0 is"):
        translation_dataset(np.array([["Ja.", "Yes.", "x"]]), german, english, 2)
    with pytest.raises(TypeError, match="entry 0 is"):
        classification_dataset(np.array([["Ja.", "1"]]), german, 2)


def test_csv_bad_byte_is_reported_at_its_column_in_the_file(tmp_path):
    # Before: the column was counted in the row's fields joined by commas, quotes and line
    # breaks left out: "column 5" for a byte in column 7 of `"xyz",\xff`.
    path = tmp_path / "bad.csv"
    path.write_bytes(b'text,label\n"xyz",\xff\n"two\nli\xfene",1\nok,0\n')
    result = read_classification_csv(path, strict=False)
    assert result == LoadResult(
        examples=[("ok", "0")],
        skipped=[
            (str(path), 2, "invalid UTF-8 byte 0xff at column 7"),
            (str(path), 3, "invalid UTF-8 byte 0xfe at column 3 of line 4"),
        ],
    )
    assert b'"xyz",\xff'.index(b"\xff") + 1 == 7

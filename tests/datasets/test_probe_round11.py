"""Round-11 audit of the readers for users' files: NUL bytes, the same column or file twice."""

import os

import pytest

from keras_seq.datasets import (
    read_classification_csv,
    read_conll,
    read_parallel_files,
    read_parallel_tsv,
    read_text,
)


def test_nul_bytes_are_malformed_lines(tmp_path):
    # A file cut short by a crash ends in NUL-filled blocks: before, `read_text` returned the
    # run of NULs as an item, and a NUL inside a line stayed in the word, without any error.
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"Call me Ishmael.\n\x00\x00\x00\x00\nSome years ago\x00.\nNever mind.\n")
    with pytest.raises(ValueError, match=r"corpus\.txt:2: NUL byte at column 1"):
        read_text(path)
    result = read_text(path, strict=False)
    assert result.examples == ["Call me Ishmael.", "Never mind."]
    assert [(line, reason[:22]) for _, line, reason in result.skipped] == [
        (2, "NUL byte at column 1 ("),
        (3, "NUL byte at column 15 "),
    ]
    tsv = tmp_path / "pairs.tsv"
    tsv.write_bytes(b"Hallo.\tHello.\nDa\x00nke.\tThanks.\n")
    with pytest.raises(ValueError, match=r"pairs\.tsv:2: NUL byte at column 3"):
        read_parallel_tsv(tsv)
    assert read_parallel_tsv(tsv, strict=False).examples == [("Hallo.", "Hello.")]
    conll = tmp_path / "tags.conll"
    conll.write_bytes(b"The\tDET\ncat\x00\tNOUN\n\nA\tDET\n")
    assert read_conll(conll, strict=False).examples == [(["A"], ["DET"])]
    csv = tmp_path / "mails.csv"
    csv.write_bytes(b"text,label\nhi there,ham\nwin\x00,spam\n")
    assert read_classification_csv(csv, strict=False).examples == [("hi there", "ham")]


@pytest.mark.parametrize(
    "content, columns",
    [
        ("text,label\nhello world,pos\nbad day,neg\n", ("text", "text")),
        ("hello world,pos\nbad day,neg\n", (0, 0)),
        ("hello world,pos\nbad day,neg\n", (0, -2)),
        ("hello world,pos\nbad day,neg\n", (1, -1)),
    ],
)
def test_csv_refuses_the_same_column_for_text_and_label(tmp_path, content, columns):
    # Before: each text was read as its own label, without any error (the TSV and CoNLL
    # readers refuse the same column for both sides).
    path = tmp_path / "reviews.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="are the same column of .*reviews.csv"):
        read_classification_csv(path, *columns)
    with pytest.raises(ValueError, match="are the same column"):
        read_classification_csv(path, *columns, strict=False)


def test_csv_different_columns_still_read(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("hello world,pos\nbad day,neg\n", encoding="utf-8")
    assert read_classification_csv(path, 0, -1).examples == [
        ("hello world", "pos"),
        ("bad day", "neg"),
    ]


def test_aligned_files_refuse_the_same_file_twice(tmp_path):
    # Before: every line was paired with itself (a copy task), without any error.
    path = tmp_path / "train.en"
    path.write_text("He ran.\nShe sat.\n", encoding="utf-8")
    link = tmp_path / "train.de"
    os.symlink(path, link)
    for source, target in ((path, str(path)), (path, link)):
        with pytest.raises(ValueError, match="are the same file"):
            read_parallel_files(source, target)
    other = tmp_path / "other.en"
    other.write_text("He ran.\nShe sat.\n", encoding="utf-8")  # same content, another file
    assert read_parallel_files(path, other).examples == [
        ("He ran.", "He ran."),
        ("She sat.", "She sat."),
    ]

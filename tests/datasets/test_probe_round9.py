"""Round-9 audit of the readers for users' files: tar archives, byte order marks, trailing lines."""

import codecs
import io
import tarfile

import pytest

from keras_seq.datasets import (
    read_classification_csv,
    read_conll,
    read_parallel_files,
    read_parallel_tsv,
    read_text,
)

PAIRS = b"Guten Morgen.\tGood morning.\nDanke.\tThanks.\n"


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
@pytest.mark.parametrize("format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tar_archives_are_named_as_such(tmp_path, mode, format):
    # Before: a `.tar.gz` of a corpus was read as text without any error: the member's name and
    # tar header (NULs, octal fields) glued to the first line, and lines of NUL padding kept as
    # examples by `read_text`.
    path = tmp_path / "corpus.tgz"
    with tarfile.open(path, mode, format=format) as archive:
        member = tarfile.TarInfo("pairs.tsv")
        member.size = len(PAIRS)
        archive.addfile(member, io.BytesIO(PAIRS))
    for read in (read_parallel_tsv, read_text):
        with pytest.raises(ValueError, match="tar archive.*extract the file"):
            read(path, strict=False)


def test_text_with_ustar_at_byte_257_is_still_text(tmp_path):
    path = tmp_path / "recipes.txt"
    path.write_bytes(b"x" * 256 + b"mustard and honey\n")
    assert read_text(path).examples == ["x" * 256 + "mustard and honey"]


def test_byte_order_marks_of_concatenated_files_are_ignored(tmp_path):
    # `cat a.tsv b.tsv` of two files saved with a byte order mark. Before: the second part's
    # first source was "\ufeffDanke." (an unknown token more for the tokenizer, a word no
    # hypothesis matches in a reference), and likewise the first word of a CoNLL sentence.
    bom = codecs.BOM_UTF8
    path = tmp_path / "all.tsv"
    path.write_bytes(bom + b"Guten Morgen.\tGood morning.\r\n" + bom + b"Danke.\tThanks.\r\n")
    assert read_parallel_tsv(path).examples == [
        ("Guten Morgen.", "Good morning."),
        ("Danke.", "Thanks."),
    ]
    conll = tmp_path / "all.conll"
    conll.write_bytes(bom + b"Paris\tB-LOC\n\n" + bom + b"Rom\tB-LOC\n")
    assert read_conll(conll).examples == [(["Paris"], ["B-LOC"]), (["Rom"], ["B-LOC"])]
    text = tmp_path / "all.txt"
    text.write_bytes(bom + b"one\n" + bom + b"two\n")
    assert read_text(text).examples == ["one", "two"]


def test_aligned_files_ignore_blank_lines_at_the_end_of_one_file(tmp_path):
    # Before: "a.de has 3 lines but a.en has 2" for an extra newline at the end of one file,
    # which pairs with nothing.
    source = tmp_path / "a.de"
    target = tmp_path / "a.en"
    source.write_text("Eins.\nZwei.\n\n \n")
    target.write_text("One.\nTwo.")
    expected = [("Eins.", "One."), ("Zwei.", "Two.")]
    assert read_parallel_files(source, target).examples == expected
    assert read_parallel_files(target, source).examples == [(e, d) for d, e in expected]
    # Still an error: a line that is not blank has no partner.
    source.write_text("Eins.\nZwei.\n\nDrei.\n")
    with pytest.raises(ValueError, match=f"{source} has 4 lines but {target} has 2"):
        read_parallel_files(source, target, strict=False)
    # A trailing blank line with a partner is still a one-sided blank line.
    source.write_text("Eins.\nZwei.\n")
    target.write_text("One.\n\n")
    with pytest.raises(ValueError, match=f"{target}:2: empty line, but not in {source}"):
        read_parallel_files(source, target)


def test_csv_without_header_takes_its_field_count_from_most_rows(tmp_path):
    # Before: the first row set the number of fields. An unquoted comma in its text made the
    # good rows "expected 3 fields, found 2" (strict: line 2 blamed), and in lenient mode the
    # bad row was the only one kept, labelled with a piece of its text; a first row without
    # its label made the label column "out of range" even with strict=False.
    path = tmp_path / "reviews.csv"
    good = [("Bad", "neg"), ("Okay", "pos"), ("Awful", "neg")]
    path.write_text("Great food, friendly staff,pos\nBad,neg\nOkay,pos\nAwful,neg\n")
    with pytest.raises(ValueError, match="reviews.csv:1: expected 2 fields, found 3"):
        read_classification_csv(path, 0, 1)
    result = read_classification_csv(path, 0, 1, strict=False)
    assert result.examples == good
    assert result.skipped == [(str(path), 1, "expected 2 fields, found 3")]
    path.write_text("Great food\nBad,neg\nOkay,pos\nAwful,neg\n")
    result = read_classification_csv(path, 0, 1, strict=False)
    assert result.examples == good
    assert result.skipped == [(str(path), 1, "expected 2 fields, found 1")]
    # On a tie the first row's count is the file's, as before.
    path.write_text("a,x\nb,y,z\n")
    assert read_classification_csv(path, 0, 1, strict=False).examples == [("a", "x")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_byte_order_mark_are_named_as_such(tmp_path, encoding):
    # Before: NUL is valid UTF-8, so every letter came with a NUL ("G\x00u\x00t\x00..."),
    # silently with `read_text` and lenient `read_parallel_tsv`, and strict
    # `read_parallel_tsv` blamed line 3 ("expected 2 tab-separated columns, found 1").
    path = tmp_path / "pairs.tsv"
    path.write_bytes(PAIRS.decode().encode(encoding))
    for read in (read_parallel_tsv, read_text):
        with pytest.raises(ValueError, match="UTF-16 or UTF-32 text file without a byte order"):
            read(path, strict=False)
    # Short UTF-8 files are still read.
    for data, lines in ((b"a", ["a"]), (b"ab\n", ["ab"]), (b"\n", [])):
        path.write_bytes(data)
        assert read_text(path).examples == lines

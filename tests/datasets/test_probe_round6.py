"""Round-6 audit of the readers for users' files: compression, encodings, line ends, CSV quotes."""

import bz2
import codecs
import zipfile

import pytest

from keras_seq.datasets import (
    read_classification_csv,
    read_conll,
    read_parallel_files,
    read_parallel_tsv,
    read_text,
)

_UNTERMINATED = "unterminated quoted field"


def test_bzip2_files_are_read_like_gzip_and_xz(tmp_path):
    # Before: the compressed bytes were decoded as text ("invalid UTF-8 byte 0xce at column 11").
    path = tmp_path / "pairs.tsv.bz2"
    path.write_bytes(bz2.compress(b"Guten Morgen.\tGood morning.\nDanke.\tThanks.\n"))
    result = read_parallel_tsv(path)
    assert result.examples == [("Guten Morgen.", "Good morning."), ("Danke.", "Thanks.")]
    # Recognised by the magic bytes, whatever the name; an empty bzip2 stream is an empty file.
    other = tmp_path / "corpus.dat"
    other.write_bytes(bz2.compress(b"one\ntwo\n"))
    assert read_text(other).examples == ["one", "two"]
    empty = tmp_path / "empty.txt"
    empty.write_bytes(bz2.compress(b""))
    assert read_text(empty).examples == []


def test_truncated_bzip2_file_is_named_corrupt(tmp_path):
    path = tmp_path / "cut.txt.bz2"
    path.write_bytes(bz2.compress(b"some text\n" * 100)[:30])
    with pytest.raises(ValueError, match="corrupt compressed file"):
        read_text(path)


@pytest.mark.parametrize(
    "encoding, what",
    [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")],
)
def test_utf16_and_utf32_files_are_named_as_such(tmp_path, encoding, what):
    # Excel's "Unicode Text" export is tab-separated UTF-16 with a byte order mark. Before:
    # "invalid UTF-8 byte 0xff at column 1", which hid what the file is.
    path = tmp_path / "pairs.txt"
    data = "Hallo.\tHello.\n".encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f"{what} text file.*convert it"):
        read_parallel_tsv(path)


def test_zip_archives_are_named_as_such(tmp_path):
    path = tmp_path / "pairs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pairs.tsv", "Hallo.\tHello.\n")
    with pytest.raises(ValueError, match="zip archive"):
        read_parallel_tsv(path)


def test_files_with_classic_mac_line_ends_are_split_into_lines(tmp_path):
    # A file whose lines end in "\r" alone was one line: read_text returned one example with
    # "\r" inside it (silently merged), read_parallel_tsv "expected 2 columns, found 3".
    text = tmp_path / "corpus.txt"
    text.write_bytes(b"Call me Ishmael.\rSome years ago.\r\rNever mind.")
    assert read_text(text).examples == ["Call me Ishmael.", "Some years ago.", "Never mind."]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_bytes(b"A.\tB.\rC.\tD.\r")
    assert read_parallel_tsv(pairs).examples == [("A.", "B."), ("C.", "D.")]
    conll = tmp_path / "tags.conll"
    conll.write_bytes(b"He\tPRON\rran\tVERB\r\rGo\tVERB\r")
    assert read_conll(conll).examples == [(["He", "ran"], ["PRON", "VERB"]), (["Go"], ["VERB"])]
    source, target = tmp_path / "a.de", tmp_path / "a.en"
    source.write_bytes(b"Ja.\rNein.\r")
    target.write_bytes(b"Yes.\nNo.\n")
    assert read_parallel_files(source, target).examples == [("Ja.", "Yes."), ("Nein.", "No.")]
    # Line numbers count those lines.
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\rfine\rbad \xff\r")
    with pytest.raises(ValueError, match=r"bad\.txt:3: invalid UTF-8 byte 0xff"):
        read_text(bad)


def test_csv_unterminated_quote_is_reported_and_later_rows_are_kept(tmp_path):
    # One stray quote made the rest of the file one field: strict mode said "expected 2
    # fields, found 1", and lenient mode dropped all 1,000 later rows under one skipped line.
    path = tmp_path / "reviews.csv"
    rows = "".join(f"row {i},{i % 2}\n" for i in range(1000))
    path.write_text('text,label\ngood,1\n"oops,0\n' + rows, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"reviews\.csv:3: {_UNTERMINATED}"):
        read_classification_csv(path)
    result = read_classification_csv(path, strict=False)
    assert len(result.examples) == 1001
    assert result.examples[0] == ("good", "1")
    assert result.examples[1] == ("row 0", "0")
    assert result.examples[-1] == ("row 999", "1")
    assert [(line, reason.split(":")[0]) for _, line, reason in result.skipped] == [
        (3, _UNTERMINATED)
    ]


def test_csv_unterminated_quote_in_the_header_or_last_row(tmp_path):
    header = tmp_path / "header.csv"
    header.write_text('"text,label\na,1\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"header\.csv:1: header row: {_UNTERMINATED}"):
        read_classification_csv(header, strict=False)
    last = tmp_path / "last.csv"
    last.write_bytes(b'text,label\r\na,1\r\n"b,\r\nmore')  # no final line end either
    result = read_classification_csv(last, strict=False)
    assert result.examples == [("a", "1")]
    assert [line for _, line, _ in result.skipped] == [3, 4]  # "more" is one field
    # Quoted fields that span lines, and a last row without a line end, are unaffected.
    fine = tmp_path / "fine.csv"
    fine.write_bytes(b'text,label\n"two\nlines",1\n"x ""y""",0')
    assert read_classification_csv(fine).examples == [("two\nlines", "1"), ('x "y"', "0")]


def test_csv_with_classic_mac_line_ends_and_an_unterminated_quote(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b'text,label\r"a\rb",1\rc,0\r"d,1\re,1\r')
    result = read_classification_csv(path, strict=False)
    assert result.examples == [("a\rb", "1"), ("c", "0"), ("e", "1")]
    assert [line for _, line, _ in result.skipped] == [5]


def test_conll_docstart_ends_the_sentence_before_it(tmp_path):
    # Without a blank line before "-DOCSTART-", the last sentence of one document and the
    # first of the next were read as one sentence.
    path = tmp_path / "ner.conll"
    path.write_text(
        "EU B-ORG\nrejects O\n-DOCSTART- -X- -X- O\nPeter B-PER\n\n-DOCSTART- -X- -X- O\n\n"
        "Blackburn B-PER\n",
        encoding="utf-8",
    )
    assert read_conll(path).examples == [
        (["EU", "rejects"], ["B-ORG", "O"]),
        (["Peter"], ["B-PER"]),
        (["Blackburn"], ["B-PER"]),
    ]

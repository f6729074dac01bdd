import csv
import gzip
import lzma

import pytest

from keras_seq.datasets import (
    LoadResult,
    read_classification_csv,
    read_conll,
    read_parallel_files,
    read_parallel_tsv,
    read_text,
)


def write(path, content, compression=None):
    data = content.encode("utf-8") if isinstance(content, str) else content
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "xz":
        data = lzma.compress(data)
    path.write_bytes(data)
    return path


# --- Parallel TSV --------------------------------------------------------------------------

TSV = "Guten Morgen.\tGood morning.\r\n\n  Er hat es tun müssen. \t He had to do it.\n"
TSV_PAIRS = [("Guten Morgen.", "Good morning."), ("Er hat es tun müssen.", "He had to do it.")]


def test_read_parallel_tsv_pairs_stripped_blank_lines_ignored(tmp_path):
    result = read_parallel_tsv(write(tmp_path / "pairs.tsv", TSV))
    assert result == LoadResult(examples=TSV_PAIRS, skipped=[])


@pytest.mark.parametrize("compression", ["gzip", "xz"])
@pytest.mark.parametrize("name", ["pairs.tsv.gz", "pairs.data"])
def test_read_parallel_tsv_compressed_by_magic_bytes(tmp_path, compression, name):
    path = write(tmp_path / name, TSV, compression)
    assert read_parallel_tsv(path).examples == TSV_PAIRS


def test_read_parallel_tsv_ignores_byte_order_mark(tmp_path):
    path = write(tmp_path / "bom.tsv", b"\xef\xbb\xbf" + TSV.encode("utf-8"))
    assert read_parallel_tsv(path).examples == TSV_PAIRS


MALFORMED_TSV = b"Ja.\tYes.\na\tb\tc\nNein.\t \n\tNo.\nGr\xfc\xdfe\tGreetings\nDanke.\tThanks."


@pytest.mark.parametrize(
    "line, reason",
    [
        (2, "expected 2 tab-separated columns, found 3"),
        (3, "empty target side"),
        (4, "empty source side"),
        (5, "invalid UTF-8 byte 0xfc at column 3"),
    ],
)
def test_read_parallel_tsv_strict_names_file_line_and_problem(tmp_path, line, reason):
    lines = MALFORMED_TSV.split(b"\n")
    path = write(tmp_path / "bad.tsv", b"\n".join([lines[0], lines[line - 1]]))
    with pytest.raises(ValueError, match=f"^{path}:2: {reason}$"):
        read_parallel_tsv(path)


def test_read_parallel_tsv_lenient_skips_and_records(tmp_path):
    path = write(tmp_path / "bad.tsv.gz", MALFORMED_TSV, "gzip")
    result = read_parallel_tsv(path, strict=False)
    assert result.examples == [("Ja.", "Yes."), ("Danke.", "Thanks.")]
    assert result.skipped == [
        (str(path), 2, "expected 2 tab-separated columns, found 3"),
        (str(path), 3, "empty target side"),
        (str(path), 4, "empty source side"),
        (str(path), 5, "invalid UTF-8 byte 0xfc at column 3"),
    ]


def test_readers_raise_file_not_found_naming_the_path(tmp_path):
    missing = tmp_path / "missing.tsv"
    for read in (read_parallel_tsv, read_conll, read_classification_csv, read_text):
        with pytest.raises(FileNotFoundError, match="missing.tsv"):
            read(missing)
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        read_parallel_files(write(tmp_path / "a.txt", "x\n"), missing)


def test_readers_reject_corrupt_compressed_file(tmp_path):
    path = write(tmp_path / "cut.tsv.gz", gzip.compress(TSV.encode("utf-8"))[:20])
    with pytest.raises(ValueError, match="corrupt compressed file"):
        read_parallel_tsv(path)


def test_readers_reject_non_bool_strict(tmp_path):
    with pytest.raises(TypeError, match="strict"):
        read_text(write(tmp_path / "a.txt", "x\n"), strict="no")


# --- Two aligned files ---------------------------------------------------------------------


def test_read_parallel_files_pairs_lines(tmp_path):
    source = write(tmp_path / "train.de", "Guten Morgen.\n\nEr hat es tun müssen.\n")
    target = write(tmp_path / "train.en.gz", "Good morning.\n\nHe had to do it.", "gzip")
    result = read_parallel_files(source, target)
    assert result == LoadResult(examples=TSV_PAIRS, skipped=[])


def test_read_parallel_files_unequal_line_counts_always_raise(tmp_path):
    source = write(tmp_path / "a.de", "Eins.\nZwei.\nDrei.\n")
    target = write(tmp_path / "a.en", "One.\nTwo.\n")
    for strict in (True, False):
        with pytest.raises(ValueError, match=f"{source} has 3 lines but {target} has 2"):
            read_parallel_files(source, target, strict=strict)


def test_read_parallel_files_malformed_lines(tmp_path):
    source = write(tmp_path / "a.de", b"Eins.\nZwei.\n\nVier \xff.\n")
    target = write(tmp_path / "a.en", b"One.\n \nThree.\nFour.\n")
    with pytest.raises(ValueError, match=f"^{target}:2: empty line, but not in {source}$"):
        read_parallel_files(source, target)
    result = read_parallel_files(source, target, strict=False)
    assert result.examples == [("Eins.", "One.")]
    assert result.skipped == [
        (str(target), 2, f"empty line, but not in {source}"),
        (str(source), 3, f"empty line, but not in {target}"),
        (str(source), 4, "invalid UTF-8 byte 0xff at column 6"),
    ]


# --- CoNLL-U and CoNLL ---------------------------------------------------------------------

CONLLU = """# newdoc id = mail-1
# sent_id = 1
# text = Vamos al mercado.
1\tVamos\tir\tVERB\t_\tMood=Ind\t0\troot\t_\t_
2-3\tal\t_\t_\t_\t_\t_\t_\t_\t_
2\ta\ta\tADP\t_\t_\t4\tcase\t_\t_
3\tel\tel\tDET\t_\t_\t4\tdet\t_\t_
4\tmercado\tmercado\tNOUN\t_\t_\t1\tobl\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_

# sent_id = 2
# text = Yo también.
1\tYo\tyo\tPRON\t_\t_\t0\troot\t_\t_
1.1\tvoy\tir\tVERB\t_\t_\t_\t_\t0:root\t_
2\ttambién\ttambién\tADV\t_\t_\t1\tadvmod\t_\tSpaceAfter=No
3\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_
"""


def test_read_conll_conllu_skips_comments_multiword_and_empty_nodes(tmp_path):
    result = read_conll(write(tmp_path / "es.conllu", CONLLU), word_column=1, tag_column=3)
    assert result.skipped == []
    assert result.examples == [
        (["Vamos", "a", "el", "mercado", "."], ["VERB", "ADP", "DET", "NOUN", "PUNCT"]),
        (["Yo", "también", "."], ["PRON", "ADV", "PUNCT"]),
    ]


CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
# NN I-NP O
"""


def test_read_conll_bio_tags_space_separated(tmp_path):
    path = write(tmp_path / "ner.txt", CONLL2003)
    assert read_conll(path).examples == [
        (["EU", "rejects", "German", "call", "."], ["B-ORG", "O", "B-MISC", "O", "O"]),
        (["Peter", "Blackburn", "#"], ["B-PER", "I-PER", "O"]),
    ]
    assert read_conll(path, tag_column=1).examples[1] == (
        ["Peter", "Blackburn", "#"],
        ["NNP", "NNP", "NN"],
    )


# A "#" token and a "#hashtag" token each start a sentence (the first one on the file's first
# line); "# a comment" (no tab in a tab-separated file) and "#\tnote\there" (3 columns in a
# 2-column file) are comments.
TWEETS = "#MeToo\tB-MISC\nrally\tO\n\n# a comment\n#\tnote\there\n#\tO\nhe\tO\nsaid\tO\n#\tO\n"


@pytest.mark.parametrize("strict", [True, False])
def test_read_conll_keeps_hash_tokens_at_sentence_start(tmp_path, strict):
    result = read_conll(write(tmp_path / "tweets.conll", TWEETS), strict=strict)
    assert result.skipped == []
    assert result.examples == [
        (["#MeToo", "rally"], ["B-MISC", "O"]),
        (["#", "he", "said", "#"], ["O", "O", "O", "O"]),
    ]


def test_read_conll_hash_token_or_comment_space_separated(tmp_path):
    # Four space-separated columns: "# NN B-NP O" is a token line, "# comment" is not.
    path = write(tmp_path / "ner.txt", "# comment\n# NN B-NP O\nrallies VBZ B-VP O\n")
    assert read_conll(path).examples == [(["#", "rallies"], ["O", "O"])]


def test_read_conll_iobes_tags_in_any_column(tmp_path):
    path = write(
        tmp_path / "iobes.tsv.gz", "S-LOC\tBerlin\nO\tand\nB-ORG\tBig\nE-ORG\tCorp\n", "gzip"
    )
    assert read_conll(path, word_column=1, tag_column=0).examples == [
        (["Berlin", "and", "Big", "Corp"], ["S-LOC", "O", "B-ORG", "E-ORG"])
    ]


MALFORMED_CONLL = b"""The DT O
cat NN O

A DT O
dog NN
barks VBZ O

Big\xe9 NNP B-ORG

Rex NNP B-PER
"""


def test_read_conll_strict_and_lenient(tmp_path):
    path = write(tmp_path / "bad.conll", MALFORMED_CONLL)
    with pytest.raises(ValueError, match=f"^{path}:5: expected 3 columns, found 2$"):
        read_conll(path)
    result = read_conll(path, strict=False)
    # A sentence with a malformed line is dropped whole, so words and tags stay aligned.
    assert result.examples == [(["The", "cat"], ["O", "O"]), (["Rex"], ["B-PER"])]
    assert result.skipped == [
        (str(path), 5, "expected 3 columns, found 2"),
        (str(path), 8, "invalid UTF-8 byte 0xe9 at column 4"),
    ]


def test_read_conll_a_bad_first_token_line_is_reported_where_it_is(tmp_path):
    # The first token line used to set the column count: the error named the next (good)
    # line, and a lenient read dropped every good line of the file, but not the bad one.
    path = write(tmp_path / "train.conll", "EU\nrejects\tVBZ\nGerman\tJJ\n\nPeter\tNNP\n")
    with pytest.raises(ValueError, match=f"^{path}:1: expected 2 columns, found 1$"):
        read_conll(path)
    result = read_conll(path, strict=False)
    assert result.examples == [(["Peter"], ["NNP"])]
    assert result.skipped == [(str(path), 1, "expected 2 columns, found 1")]


def test_read_conll_refuses_a_file_without_a_tag_column(tmp_path):
    path = write(tmp_path / "untagged.conll", "EU\nrejects\n\nPeter\n")
    with pytest.raises(ValueError, match="are the same column .* 1 column\\(s\\): no tags"):
        read_conll(path)
    tagged = write(tmp_path / "tagged.conll", "EU NNP\n")
    with pytest.raises(ValueError, match="word_column=1 and tag_column=-1 are the same column"):
        read_conll(tagged, word_column=1)
    assert read_conll(tagged).examples == [(["EU"], ["NNP"])]


def test_read_conll_empty_word_or_tag(tmp_path):
    path = write(tmp_path / "empty.tsv", "Ja\tITJ\n\tNN\n\nNein\t \n")
    result = read_conll(path, strict=False)
    assert result.examples == []
    assert result.skipped == [
        (str(path), 2, "empty word (column 0)"),
        (str(path), 4, "empty tag (column -1)"),
    ]


def test_read_conll_column_arguments_checked(tmp_path):
    path = write(tmp_path / "a.conll", "The DT O\n")
    with pytest.raises(ValueError, match="tag_column=3 is out of range .* 3 columns"):
        read_conll(path, tag_column=3, strict=False)
    with pytest.raises(ValueError, match="word_column=-4 is out of range"):
        read_conll(path, word_column=-4)
    with pytest.raises(TypeError, match="word_column must be an int"):
        read_conll(path, word_column="1")


# --- CSV -----------------------------------------------------------------------------------

CSV = 'id,text,label\n1,"Great value, would buy again.",pos\n2,"Broke after\na day.", neg \n\n'


def test_read_classification_csv_header_quotes_and_multiline_fields(tmp_path):
    result = read_classification_csv(write(tmp_path / "reviews.csv", CSV))
    assert result == LoadResult(
        examples=[("Great value, would buy again.", "pos"), ("Broke after\na day.", "neg")],
        skipped=[],
    )


def test_read_classification_csv_columns_by_index_without_header(tmp_path):
    path = write(tmp_path / "plain.csv.xz", "pos,Loved it\nneg,Hated it\n", "xz")
    result = read_classification_csv(path, text_column=1, label_column=0)
    assert result.examples == [("Loved it", "pos"), ("Hated it", "neg")]


def test_read_classification_csv_unknown_column(tmp_path):
    path = write(tmp_path / "reviews.csv", CSV)
    with pytest.raises(ValueError, match=r"text_column='review' .* \['id', 'text', 'label'\]"):
        read_classification_csv(path, text_column="review", strict=False)
    with pytest.raises(ValueError, match="label_column=5 is out of range"):
        read_classification_csv(path, text_column=1, label_column=5)
    with pytest.raises(TypeError, match="label_column"):
        read_classification_csv(path, label_column=1.0)


MALFORMED_CSV = (
    b'text,label\n"first\nline",a\nonly one field\n,b\nno label,\nbad \xff byte,c\nlast,d\n'
)


def test_read_classification_csv_strict_and_lenient(tmp_path):
    path = write(tmp_path / "bad.csv.gz", MALFORMED_CSV, "gzip")
    with pytest.raises(ValueError, match=f"^{path}:4: expected 2 fields, found 1$"):
        read_classification_csv(path)
    result = read_classification_csv(path, strict=False)
    assert result.examples == [("first\nline", "a"), ("last", "d")]
    assert result.skipped == [
        (str(path), 4, "expected 2 fields, found 1"),
        (str(path), 5, "empty text"),
        (str(path), 6, "empty label"),
        (str(path), 7, "invalid UTF-8 byte 0xff at column 5"),
    ]


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_read_classification_csv_counts_lines_by_their_line_ends(tmp_path, end):
    # A "\r" inside a quoted field is no line end: "broken row" is line 3 (it was 4).
    text = end.join(["text,label", '"first\rreview",1', "broken row", '"two\nlines",0', "x,"])
    path = write(tmp_path / "reviews.csv", text + end)
    result = read_classification_csv(path, "text", "label", strict=False)
    assert result.examples == [("first\rreview", "1"), ("two\nlines", "0")]
    assert result.skipped == [
        (str(path), 3, "expected 2 fields, found 1"),
        (str(path), 6, "empty label"),
    ]
    # A file of classic Mac line ends ("\r" only) still reads line by line.
    path = write(tmp_path / "mac.csv", "text,label\rhello,1\rbroken\rbye,0\r")
    result = read_classification_csv(path, "text", "label", strict=False)
    assert result.examples == [("hello", "1"), ("bye", "0")]
    assert result.skipped == [(str(path), 3, "expected 2 fields, found 1")]


def test_read_classification_csv_lenient_never_skips_a_malformed_header(tmp_path):
    # Skipping the header would take the first example for it ("text" not in ['ham', 'a']).
    path = write(tmp_path / "bad_header.csv", b"te\xffxt,label\nham,a\nspam,b\n")
    for strict in (True, False):
        with pytest.raises(ValueError, match=f"^{path}:1: header row: invalid UTF-8 byte 0xff"):
            read_classification_csv(path, strict=strict)
    # Without a header, the same row is an example like any other: skipped when lenient.
    result = read_classification_csv(path, text_column=0, label_column=1, strict=False)
    assert result.examples == [("ham", "a"), ("spam", "b")]
    assert result.skipped == [(str(path), 1, "invalid UTF-8 byte 0xff at column 3")]


def test_read_classification_csv_fields_longer_than_the_csv_module_limit(tmp_path):
    # A long mail or article (the csv module refuses fields over 131,072 characters).
    long_text = "word " * 40_000 + "end"
    path = write(tmp_path / "long.csv", f'text,label\nshort,0\n"{long_text}",1\nafter,0\n')
    result = read_classification_csv(path)
    assert result.examples == [("short", "0"), (long_text, "1"), ("after", "0")]
    assert csv.field_size_limit() == 131_072  # the module's limit is left as it was


# --- Plain text ----------------------------------------------------------------------------


def test_read_text_lines(tmp_path):
    path = write(tmp_path / "lm.txt.gz", "Call me Ishmael.\r\n\n   \n  Some years ago.\n", "gzip")
    assert read_text(path) == LoadResult(examples=["Call me Ishmael.", "  Some years ago."])


def test_read_text_strict_and_lenient(tmp_path):
    path = write(tmp_path / "lm.txt", b"ok\nbad \xc3\x28\nfine\n")
    with pytest.raises(ValueError, match=f"^{path}:2: invalid UTF-8 byte 0xc3 at column 5$"):
        read_text(path)
    result = read_text(path, strict=False)
    assert result.examples == ["ok", "fine"]
    assert result.skipped == [(str(path), 2, "invalid UTF-8 byte 0xc3 at column 5")]


def test_read_conll_splits_on_ascii_spaces_and_tabs_only(tmp_path):
    # `line.split()` / `field.strip()` split and stripped any Unicode whitespace: "10\u00a0000"
    # became two columns ("expected 3 columns, found 4"), and an ideographic-space token in a
    # tab-separated file an "empty word".
    spaces = write(
        tmp_path / "nbsp.conll",
        "Le DET O\nprix  NOUN O\n10\u00a0000 NUM O\neuros NOUN O\n\nBonjour INTJ O\n",
    )
    result = read_conll(spaces, strict=False)
    assert result.skipped == []
    assert result.examples == [
        (["Le", "prix", "10\u00a0000", "euros"], ["O", "O", "O", "O"]),
        (["Bonjour"], ["O"]),
    ]
    tabs = write(tmp_path / "ideo.conll", "\u4f60\tPRON\n\u3000\tPUNCT\n \u597d \tADJ\n")
    assert read_conll(tabs).examples == [(["\u4f60", "\u3000", "\u597d"], ["PRON", "PUNCT", "ADJ"])]

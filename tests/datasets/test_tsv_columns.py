"""`read_parallel_tsv` reads any two columns of wider files, such as the Tatoeba / Anki files
of manythings.org (English, translation, attribution), which it refused line by line
("expected 2 tab-separated columns, found 3")."""

import pytest

from keras_seq.datasets import read_parallel_tsv

ANKI = (
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\n"
    "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)\n"
    "Run!\tCours !\tCC-BY 2.0 (France) Attribution: tatoeba.org #906328 (papabear) & #906331\n"
)


def test_a_three_column_anki_file_reads_both_ways(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text(ANKI, encoding="utf-8")
    english_french = [("Go.", "Va !"), ("Hi.", "Salut !"), ("Run!", "Cours !")]
    assert read_parallel_tsv(path).examples == english_french
    swapped = read_parallel_tsv(path, source_column=1, target_column=0).examples
    assert swapped == [(target, source) for source, target in english_french]
    # Negative columns count from the end.
    last = read_parallel_tsv(path, source_column=0, target_column=-1).examples
    assert last[0] == ("Go.", ANKI.split("\n")[0].split("\t")[2])


def test_the_file_takes_the_column_count_of_most_lines(tmp_path):
    """A malformed line is reported as itself, also when it is the first."""
    path = tmp_path / "fra.txt"
    path.write_text("Go.\tVa !\n" + ANKI, encoding="utf-8")
    with pytest.raises(ValueError, match=r"fra.txt:1: expected 3 tab-separated columns, found 2"):
        read_parallel_tsv(path)
    result = read_parallel_tsv(path, strict=False)
    assert [pair[0] for pair in result.examples] == ["Go.", "Hi.", "Run!"]
    assert [(line, reason) for _, line, reason in result.skipped] == [
        (1, "expected 3 tab-separated columns, found 2")
    ]


def test_bad_columns_are_refused(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text(ANKI, encoding="utf-8")
    with pytest.raises(ValueError, match=r"target_column=3 is out of range .* 3 tab-separated"):
        read_parallel_tsv(path, target_column=3)
    with pytest.raises(ValueError, match=r"source_column=-1 and target_column=2 are the same"):
        read_parallel_tsv(path, source_column=-1, target_column=2)
    with pytest.raises(TypeError, match="source_column must be an int, got True"):
        read_parallel_tsv(path, True)  # `strict` passed by position
    with pytest.raises(TypeError, match="target_column must be an int, got '1'"):
        read_parallel_tsv(path, target_column="1")
    one_column = tmp_path / "one.txt"
    one_column.write_text("Go.\nHi.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"target_column=1 is out of range .* 1 tab-separated"):
        read_parallel_tsv(one_column, strict=False)

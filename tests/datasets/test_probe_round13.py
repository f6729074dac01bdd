"""Round-13 audit of the readers for users' files."""

import bz2
import gzip
import lzma

import pytest

from keras_seq.datasets import read_parallel_tsv, read_text

PAIRS = b"Guten Morgen.\tGood morning.\n"


COMPRESS = {"gzip": gzip.compress, "xz": lzma.compress, "bzip2": bz2.compress}


@pytest.mark.parametrize(
    ("outer", "inner"), [("gzip", "gzip"), ("gzip", "xz"), ("xz", "bzip2"), ("bzip2", "gzip")]
)
def test_a_file_compressed_twice_is_named_as_such(tmp_path, outer, inner):
    """The inner stream was read as text: "pairs.tsv.gz:1: invalid UTF-8 byte 0x8b at
    column 2" (or 0xfd, 0x42...), which says nothing of the cause."""
    path = tmp_path / "pairs.tsv.gz"
    path.write_bytes(COMPRESS[outer](COMPRESS[inner](PAIRS)))
    message = rf"pairs\.tsv\.gz: compressed twice \({inner} data inside {outer}\)"
    with pytest.raises(ValueError, match=message):
        read_parallel_tsv(path)
    with pytest.raises(ValueError, match=message):
        read_text(path, strict=False)


def test_files_compressed_once_and_multi_member_files_still_read(tmp_path):
    path = tmp_path / "pairs.tsv.gz"
    for data in (
        gzip.compress(PAIRS),
        gzip.compress(PAIRS) + gzip.compress(b"Danke.\tThanks.\n"),
        lzma.compress(PAIRS),
        bz2.compress(PAIRS),
    ):
        path.write_bytes(data)
        assert read_parallel_tsv(path).examples[0] == ("Guten Morgen.", "Good morning.")

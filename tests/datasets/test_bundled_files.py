import hashlib
import importlib.resources
import lzma

import pytest

CORPORA = {
    "ding": "tsv",
    "brown": "txt",
    "spam_assassin": "jsonl",
    "moby_dick": "txt",
    "bible": "tsv",
}


def corpus_files(corpus):
    return importlib.resources.files(f"keras_seq.datasets.data.{corpus}")


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_licence_notice_and_provenance_beside_the_data(corpus):
    files = corpus_files(corpus)
    for name in ("LICENSE", "NOTICE", "PROVENANCE.md"):
        assert files.joinpath(name).read_text(encoding="utf-8").strip(), name


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_provenance_records_count_and_sha256_of_each_split(corpus):
    files = corpus_files(corpus)
    provenance = files.joinpath("PROVENANCE.md").read_text(encoding="utf-8")
    for split in ("train", "dev", "test"):
        name = f"{split}.{CORPORA[corpus]}.xz"
        content = lzma.decompress(files.joinpath(name).read_bytes())
        digest = hashlib.sha256(content).hexdigest()
        count = content.count(b"\n")
        assert f"| `{name}` | {count} | `{digest}` |" in provenance


def test_ding_licence_is_the_gpl_2():
    licence = corpus_files("ding").joinpath("LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 2, June 1991" in licence
    notice = corpus_files("ding").joinpath("NOTICE").read_text(encoding="utf-8")
    assert "GPL-2+" in notice and "Frank Richter" in notice


def test_bible_licence_is_public_domain():
    files = corpus_files("bible")
    assert "public domain" in files.joinpath("LICENSE").read_text(encoding="utf-8")
    notice = files.joinpath("NOTICE").read_text(encoding="utf-8")
    assert "sword-text-kjv 14.3-1" in notice and "sword-text-sparv 2.60-1" in notice
    assert notice.count("License: public-domain") == 2


def test_bundled_data_stays_small():
    total = sum(
        len(corpus_files(corpus).joinpath(f"{split}.{ext}.xz").read_bytes())
        for corpus, ext in CORPORA.items()
        for split in ("train", "dev", "test")
    )
    assert total < 8 * 2**20  # 5.7 MiB, and 1.9 MiB of Bible verses

"""The extraction rules of scripts/build_datasets.py, on small synthetic inputs."""

import importlib.util
import pathlib

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "build_datasets.py"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_datasets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ding_extraction_rule(build, tmp_path):
    dictionary = tmp_path / "de-en"
    dictionary.write_text(
        "# Version :: devel 2023-01-30\n"
        "Er hat es tun müssen. :: He had to do it.\n"
        # Two sub-entries paired by position; first alternative kept.
        "Geh nach Hause! | Komm sofort her! :: Go home now! ; Go home! | Come here at once!\n"
        "Zu kurz. :: Too short.\n"  # fewer than 3 words
        "Ich weiß es nicht :: I do not know.\n"  # no final punctuation on the German side
        "Er ist {m} hier. :: He is here.\n"  # annotation
        "Eins zwei drei. | Vier fünf sechs. :: One two three.\n"  # sub-entry counts differ
        "a :: b :: c d e.\n"  # two separators
        "Er hat es tun müssen. :: He had to do it.\n",  # duplicate
        encoding="utf-8",
    )
    assert build.extract_ding_pairs(dictionary) == [
        ("Er hat es tun müssen.", "He had to do it."),
        ("Geh nach Hause!", "Go home now!"),
        ("Komm sofort her!", "Come here at once!"),
    ]


def test_brown_split_is_stratified_by_genre(build):
    categories = {f"ca{i:02d}": "news" for i in range(1, 45)}
    categories.update({f"cr0{i}": "humor" for i in range(1, 10)})
    split_of = build.brown_split_of_files(categories)
    news = [split_of[f] for f in categories if categories[f] == "news"]
    humor = [split_of[f] for f in categories if categories[f] == "humor"]
    assert (news.count("test"), news.count("dev"), news.count("train")) == (4, 4, 36)
    assert (humor.count("test"), humor.count("dev"), humor.count("train")) == (1, 1, 7)


def test_moby_split(build):
    assert [build.moby_split(n) for n in (1, 5, 10, 15, 20, 135)] == [
        "train",
        "dev",
        "test",
        "dev",
        "test",
        "dev",
    ]


RECEIVED = b"Received: from mx.example.org by mail.example.org; Thu, 22 Aug 2002 12:36:23\n"


def test_email_prefers_plain_text_and_drops_headers(build):
    raw = (
        RECEIVED + b"From: Alice <alice@example.org>\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Berlin\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/alternative; boundary="XX"\n\n'
        b"--XX\nContent-Type: text/plain; charset=utf-8\n\nHallo Bob,\r\n\r\n\r\n\r\nbis bald.  \n"
        b"--XX\nContent-Type: text/html\n\n<p>Hallo <b>Bob</b></p>\n"
        b"--XX--\n"
    )
    assert build.email_subject_and_body(raw) == ("Grüße aus Berlin", "Hallo Bob,\n\nbis bald.")


def test_email_html_only_is_stripped_to_text(build):
    raw = (
        b"Subject: Win big\nContent-Type: text/html; charset=iso-8859-1\n\n"
        b"<html><head><style>p {color: red}</style><script>var x = 1;</script></head>"
        b"<body><p>Click&nbsp;<b>here</b> &amp;lt;now&amp;gt;</p><br>It\x92s free</body></html>"
    )
    assert build.email_subject_and_body(raw) == (
        "Win big",
        "Click here &lt;now&gt;\n\nIt\u2019s free",  # Latin-1 label read as windows-1252
    )


def test_email_text_part_that_is_html_and_attachments(build):
    raw = (
        b'Subject: Offer\nContent-Type: multipart/mixed; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain\n\n<HTML><BODY>Cheap <I>pills</I></BODY></HTML>\n"
        b"--B\nContent-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\n"
        b"attached notes\n--B--\n"
    )
    assert build.email_subject_and_body(raw) == ("Offer", "Cheap pills")


def test_email_with_mime_parts_but_no_multipart_header(build):
    raw = (
        RECEIVED + b"Subject: Issue #422\n\n\n"
        b"--646007810.9935\nContent-Type: text/plain; charset=iso-8859-1\n\nPlain issue.\n"
        b"--646007810.9935\nContent-Type: text/html; charset=iso-8859-1\n\n<p>HTML issue.</p>\n"
        b"--646007810.9935--\n"
    )
    assert build.email_subject_and_body(raw) == ("Issue #422", "Plain issue.")


def test_spam_split_buckets(build):
    names = [f"spam-1/{i:05d}.txt" for i in range(2000)]
    splits = [build.spam_split(name) for name in names]
    assert 0.07 < splits.count("test") / 2000 < 0.13
    assert 0.07 < splits.count("dev") / 2000 < 0.13


def _zlib_module(folder, testament, entries):
    """Writes a one-block SWORD zText `testament` holding `entries` (str) under `folder`."""
    import struct
    import zlib

    data = "".join(entries).encode("utf-8")
    block = zlib.compress(data)
    (folder / f"{testament}.bzz").write_bytes(block)
    (folder / f"{testament}.bzs").write_bytes(struct.pack("<III", 0, len(block), len(data)))
    index, offset = b"", 0
    for entry in entries:
        size = len(entry.encode("utf-8"))
        index += struct.pack("<IIH", 0, offset, size)
        offset += size
    (folder / f"{testament}.bzv").write_bytes(index)


def test_sword_ztext_is_read_by_its_own_book_and_chapter_headings(build, tmp_path):
    gen = '<div canonical="true" osisID="Gen" sID="g1" type="book"/><title>Genesis</title>'
    _zlib_module(
        tmp_path,
        "ot",
        [
            "",
            '<milestone type="x-importer"/>',
            gen,
            '<chapter n="1" osisID="Gen.1" sID="Gen.1"/>',
            'In the <w lemma="strong:H7225">beginning</w>.',
            "",  # an empty verse is still a verse
            '<chapter n="2" osisID="Gen.2" sID="Gen.2"/>',
            'Thus <chapter eID="Gen.1"/><div eID="g1" type="book"/>',
        ],
    )
    _zlib_module(tmp_path, "nt", ["", ""])
    assert build.sword_verses(tmp_path) == {
        ("Gen", 1, 1): 'In the <w lemma="strong:H7225">beginning</w>.',
        ("Gen", 1, 2): "",
        ("Gen", 2, 1): 'Thus <chapter eID="Gen.1"/><div eID="g1" type="book"/>',
    }


def test_osis_to_text_drops_notes_and_attributes_and_keeps_words(build):
    markup = (
        '<div type="x-milestone" subType="x-preverse" sID="pv1"/>'
        '<title canonical="true" type="psalm">A <w lemma="strong:H4210">Psalm</w>.</title> '
        '<q marker="" who="Jesus">\u00b6 The <divineName><w lemma="strong:H3068">LORD</w>'
        '</divineName> <transChange type="added">is</transChange> my'
        ' <w lemma="strong:H7462" morph="x">shepherd</w>;<note placement="foot">'
        '<reference type="annotateRef">23.1 </reference>shepherd: Heb. feeder</note>'
        ' I &amp; thou.</q> <l eID="l1"/>'
    )
    assert build.osis_to_text(markup) == "A Psalm. The LORD is my shepherd; I & thou."
    glued = '<w lemma="strong:H8033">hay allí</w><transChange type="added">también</transChange>'
    assert build.osis_to_text(glued + "<w>bdelio</w>.") == "hay allí también bdelio."
    assert build.osis_to_text("<w>Christ</w>\u2019s") == "Christ\u2019s"
    assert build.osis_strongs(markup) == {"H4210", "H3068", "H7462"}


def test_bible_rules(build):
    assert [build.bible_split(book) for book in ("Gen", "Josh", "Judg", "John", "Acts")] == [
        "train",
        "test",
        "dev",
        "test",
        "dev",
    ]
    assert build.bible_misaligned(("Jonah", 2, 3)) and build.bible_misaligned(("Job", 39, 1))
    assert not build.bible_misaligned(("Jonah", 1, 16)) and not build.bible_misaligned(
        ("Job", 41, 1)
    )
    held_out = set(build.BIBLE_HELD_OUT)
    assert all(first[0] == last[0] for first, last in build.BIBLE_MISALIGNED)
    assert held_out == {"Josh", "John", "Judg", "Acts"}

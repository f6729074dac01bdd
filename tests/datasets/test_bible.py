import hashlib
import re

import pytest

from keras_seq.datasets import load_bible

# From PROVENANCE.md: the rule's result as `english<TAB>spanish` lines.
EXPECTED = {
    "train": (27730, "e94523fcd3f9d14b382acb6b65c8a9b337799fbd75c702fdb49a8ef704e75a8b"),
    "dev": (1621, "75cf5e5b7866587e422a1d6cc3cf41ef8b3506a642aa19b0a1a8ad343b7b4d6a"),
    "test": (1537, "14b311dc6e5a434ef01b0faba40fb6b8a286d9e4c00f6ede3a742e2ca9453658"),
}

# Known verses, their books' split under the rule (Joshua and John test, Judges and Acts dev).
GOLDEN = [
    (
        "train",  # Genesis 1:1
        "In the beginning God created the heaven and the earth.",
        "EN el principio crió Dios los cielos y la tierra.",
    ),
    (
        "train",  # Psalm 23:1, with the psalm's title as in both modules
        "A Psalm of David. The LORD is my shepherd; I shall not want.",
        "Salmo de David. JEHOVÁ es mi pastor; nada me faltará.",
    ),
    (
        "test",  # John 1:1
        "In the beginning was the Word, and the Word was with God, and the Word was God.",
        "EN el principio era el Verbo, y el Verbo era con Dios, y el Verbo era Dios.",
    ),
    (
        "test",  # John 3:16
        "For God so loved the world, that he gave his only begotten Son, that whosoever"
        " believeth in him should not perish, but have everlasting life.",
        "Porque de tal manera amó Dios al mundo, que ha dado á su Hijo unigénito, para que"
        " todo aquel que en él cree, no se pierda, mas tenga vida eterna.",
    ),
    (
        "dev",  # Acts 1:1
        "The former treatise have I made, O Theophilus, of all that Jesus began both to do"
        " and teach,",
        "EN el primer tratado, oh Teófilo, he hablado de todas las cosas que Jesús comenzó"
        " á hacer y á enseñar,",
    ),
]

# Opening verses of the held-out books, and the first verses after them.
BOOK_STARTS = {
    "test": [
        "Now after the death of Moses the servant of the LORD it came to pass,",  # Joshua 1:1
        "In the beginning was the Word,",  # John 1:1
    ],
    "dev": [
        "Now after the death of Joshua it came to pass,",  # Judges 1:1
        "The former treatise have I made,",  # Acts 1:1
    ],
}


@pytest.fixture(scope="module")
def splits():
    return {split: load_bible(split) for split in EXPECTED}


@pytest.mark.parametrize("split", list(EXPECTED))
def test_counts_and_sha256_match_the_provenance(splits, split):
    pairs = splits[split]
    rendered = "".join(f"{english}\t{spanish}\n" for english, spanish in pairs)
    assert (len(pairs), hashlib.sha256(rendered.encode("utf-8")).hexdigest()) == EXPECTED[split]


@pytest.mark.parametrize(("split", "english", "spanish"), GOLDEN)
def test_golden_verses_are_paired_and_in_their_books_split(splits, split, english, spanish):
    assert (english, spanish) in splits[split]
    for other in set(EXPECTED) - {split}:
        assert all(e != english for e, _ in splits[other])


def test_held_out_books_are_whole_and_start_their_split(splits):
    for split, starts in BOOK_STARTS.items():
        first_words = [english for english, _ in splits[split]]
        assert first_words[0].startswith(starts[0])
        assert sum(english.startswith(starts[1]) for english in first_words) == 1
    # Joshua 24:33, the last verse of Joshua, sits right before John 1:1.
    test = [english for english, _ in splits["test"]]
    john = next(i for i, english in enumerate(test) if english.startswith(BOOK_STARTS["test"][1]))
    assert test[john - 1].startswith("And Eleazar the son of Aaron died;")


def test_no_markup_strongs_numbers_or_empty_sides(splits):
    strongs = re.compile(r"\b[HG]\d{3,4}\b")
    entity = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|\w+);")
    for pairs in splits.values():
        for pair in pairs:
            assert len(pair) == 2
            for side in pair:
                assert side and side == " ".join(side.split())
                assert "<" not in side and ">" not in side and "¶" not in side
                assert not entity.search(side) and not strongs.search(side)


def test_splits_share_no_verse_but_one_repeated_in_the_bible(splits):
    english = {split: {e for e, _ in pairs} for split, pairs in splits.items()}
    assert not english["train"] & english["dev"]
    assert not english["train"] & english["test"]
    # Joshua 15:16 and Judges 1:12 are the same verse word for word.
    assert english["test"] & english["dev"] == {
        "And Caleb said, He that smiteth Kirjath-sepher, and taketh it, to him will I give"
        " Achsah my daughter to wife."
    }


def test_spanish_source_mirrors_english_source(splits):
    mirrored = load_bible("dev", source="es")
    assert mirrored == [(spanish, english) for english, spanish in splits["dev"]]


def test_bad_arguments_name_the_allowed_values():
    with pytest.raises(ValueError, match="split must be one of 'train', 'dev', 'test'; got 'x'"):
        load_bible("x")
    with pytest.raises(ValueError, match="source must be one of 'en', 'es'; got 'fr'"):
        load_bible("train", source="fr")

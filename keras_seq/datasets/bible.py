"""The English-Spanish Bible verse pairs bundled with keras_seq."""

from keras_seq.datasets._bundled import check_split, read_bundled_lines

SOURCES = ("en", "es")


def load_bible(split="train", source="en"):
    """Loads English-Spanish verse pairs: the King James Version and the Reina-Valera 1909.

    Both texts are public domain (Debian packages `sword-text-kjv` 14.3-1 and
    `sword-text-sparv` 2.60-1, SWORD modules `engKJV2006eb` and `spaRV1909eb`). Verses are
    paired by their KJV reference, markup and footnotes removed; 214 verses in 16 ranges where
    the Spanish module keeps its own verse division are left out. Whole books are held out:
    27,730 train pairs, 1,621 dev (Judges, Acts) and 1,537 test (Joshua, John). The English
    is archaic (1769) and the Spanish uses the 1909 spelling (`á`, `fué`); verses are long
    (median 24 English words). See `docs/datasets.md` for the rules and the checksums.

    Args:
        split: str. One of `"train"`, `"dev"`, `"test"`.
        source: str. `"en"` for `(english, spanish)` pairs, `"es"` for
            `(spanish, english)`.

    Returns:
        A list of `(source, target)` string pairs, in canonical verse order.

    Raises:
        ValueError: when `split` or `source` is not one of its allowed values.

    Example:

    >>> pairs = load_bible("test")
    >>> len(pairs)
    1537
    >>> english, spanish = pairs[749]
    >>> english[:32], spanish[:32]
    ('For God so loved the world, that', 'Porque de tal manera amó Dios al')
    >>> load_bible("test", source="es")[749][0] == spanish
    True
    """
    check_split(split)
    if source not in SOURCES:
        valid = ", ".join(repr(name) for name in SOURCES)
        raise ValueError(f"source must be one of {valid}; got {source!r}")
    pairs = [tuple(line.split("\t")) for line in read_bundled_lines("bible", f"{split}.tsv.xz")]
    return pairs if source == "en" else [(spanish, english) for english, spanish in pairs]

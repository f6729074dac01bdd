"""Bundled corpora and readers for users' own data files.

Bundled (committed, compressed, no network needed):
- `load_ding`: German-English sentence pairs (translation).
- `load_bible`: English-Spanish Bible verse pairs (translation, public domain).
- `load_brown_pos`, `load_brown_genres`: the Brown corpus (POS tagging, genres).
- `load_spam_assassin`: ham/spam emails (classification).
- `load_moby_dick`: a novel by paragraphs (language modelling).

Readers for your own files (plain, gzip, bzip2 or xz), each returning a `LoadResult`:
`read_parallel_tsv`, `read_parallel_files`, `read_conll`, `read_classification_csv`,
`read_text`.

Every loader returns plain Python lists, so that any pipeline can wrap them.
See `docs/datasets.md` for licences, provenance, split rules and counts.
"""

from keras_seq.datasets.bible import load_bible
from keras_seq.datasets.brown import load_brown_genres, load_brown_pos
from keras_seq.datasets.ding import load_ding
from keras_seq.datasets.load_result import LoadResult
from keras_seq.datasets.moby_dick import load_moby_dick
from keras_seq.datasets.readers import (
    read_classification_csv,
    read_conll,
    read_parallel_files,
    read_parallel_tsv,
    read_text,
)
from keras_seq.datasets.spam_assassin import SPAM_ASSASSIN_LABELS, load_spam_assassin

__all__ = [
    "LoadResult",
    "SPAM_ASSASSIN_LABELS",
    "load_bible",
    "load_brown_genres",
    "load_brown_pos",
    "load_ding",
    "load_moby_dick",
    "load_spam_assassin",
    "read_classification_csv",
    "read_conll",
    "read_parallel_files",
    "read_parallel_tsv",
    "read_text",
]

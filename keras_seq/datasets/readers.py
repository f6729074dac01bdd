"""Readers for users' own data files: parallel text, CoNLL, CSV and plain text.

Every reader takes a path to a UTF-8 file, plain or compressed (gzip, bzip2 or xz,
recognised by their magic bytes, whatever the file name), and returns a `LoadResult`.
Lines may end in `\\n` or `\\r\\n` (or, in a file without any `\\n`, in `\\r`: classic
Mac OS); a UTF-8 byte order mark is ignored, at the start of the file or of any line (as
`cat` of files that have one leaves it). A UTF-16 or UTF-32 file (one that starts with
their byte order mark, as Excel's "Unicode Text" export does, or without one, whose first
bytes alternate with NULs), a zip or tar archive (a tar one also inside gzip, bzip2 or xz:
`.tar.gz`), a Zstandard file and a file compressed twice (gzip inside gzip...) are refused
with a ValueError that says so.

A malformed line (wrong column count, an empty field, bytes that are not UTF-8, a NUL
byte) is reported with the file name and line number: with `strict=True` (the default) the
reader raises a `ValueError` saying `path:line: problem`; with `strict=False` it skips
the line, records `(path, line_number, reason)` in `LoadResult.skipped` and goes on.
Problems that no skipping can fix (a missing file, a column index out of range, the same
column or file for both sides, two aligned files of different lengths) always raise.

Column indices may be Python or NumPy integers (not bools), and ``strict`` a Python or NumPy
bool.
"""

import bz2
import codecs
import collections
import csv
import gzip
import lzma
import os
import re

import numpy as np

from keras_seq._checked_ids import as_int
from keras_seq.datasets.load_result import LoadResult

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
# "BZh", the block size "1"-"9", then a block ("pi" in BCD) or the end of an empty stream.
_BZIP2_MAGIC = re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)")
# Formats that are not read, recognised so that the error says what the file is (their bytes
# would otherwise be reported as "invalid UTF-8 byte" on line 1). UTF-32 before UTF-16: the
# UTF-32-LE mark starts with the UTF-16-LE one.
_REFUSED_MAGIC = (
    (codecs.BOM_UTF32_LE, "a UTF-32 text file (it starts with a UTF-32 byte order mark)"),
    (codecs.BOM_UTF32_BE, "a UTF-32 text file (it starts with a UTF-32 byte order mark)"),
    (codecs.BOM_UTF16_LE, "a UTF-16 text file (it starts with a UTF-16 byte order mark)"),
    (codecs.BOM_UTF16_BE, "a UTF-16 text file (it starts with a UTF-16 byte order mark)"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file"),
)
# A tar archive (also inside gzip, bzip2 or xz: `.tar.gz`, `.tgz`) has its magic at byte 257
# of its first header: POSIX "ustar\0", GNU "ustar  \0" (a NUL that no text file has there).
# Its headers and NUL padding are valid UTF-8, so read as text it gave the member's name and
# header glued to the first line, and lines of NULs as examples, without any error.
_TAR_MAGIC_OFFSET = 257
_TAR_MAGICS = (b"ustar\x00", b"ustar  \x00")
# UTF-16 and UTF-32 without a byte order mark (Python's "utf-16-le", `iconv -t UTF-16LE`):
# in text of Latin letters every other byte is NUL. NUL is valid UTF-8, so such a file was
# read as words with a NUL after every letter, without any error.
_SNIFF_BYTES = 256
# A byte order mark that starts a later line: `cat` of files saved with one (Windows Notepad,
# Excel's "CSV UTF-8") leaves it at the start of each file but the first. Kept, it was part of
# the line's first word (`.strip()` keeps U+FEFF): an unknown token, or a reference word that
# no hypothesis matches.
_LINE_START_BOM = re.compile("(?<=[\n\r])\ufeff")
# Bytes that are not UTF-8 decode to lone surrogates U+DC80..U+DCFF with "surrogateescape";
# a valid UTF-8 file can never produce them, so they mark exactly the undecodable bytes.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# CoNLL-U multiword token ranges ("1-2") and empty nodes ("1.1") carry no tag of their own.
_CONLLU_SPECIAL_ID = re.compile(r"\d+-\d+|\d+\.\d+")
_CONLLU_COLUMNS = 10


def _int_column(name, column):
    """``column`` as a Python int; TypeError for anything but an integer."""
    index = as_int(column)
    if index is None:
        raise TypeError(f"{name} must be an int, got {column!r}")
    return index


class _Problems:
    """Raises (strict) or records (lenient) the malformed lines of one read."""

    def __init__(self, strict):
        # A NumPy bool is a bool, as for the pipelines' flags.
        if not isinstance(strict, (bool, np.bool_)):
            raise TypeError(f"strict must be True or False, got {strict!r}")
        self.strict = bool(strict)
        self.skipped = []

    def report(self, path, line_number, reason):
        if self.strict:
            raise ValueError(f"{path}:{line_number}: {reason}")
        self.skipped.append((str(path), line_number, reason))


def _read_text(path):
    """Contents of `path` (plain, gzip, bzip2 or xz) decoded as UTF-8, bad bytes as
    surrogates."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {os.fspath(path)!r}")
    with open(path, "rb") as file:
        data = file.read()
    outer = _compression(data)
    try:
        if outer == "gzip":
            data = gzip.decompress(data)
        elif outer == "xz":
            data = lzma.decompress(data)
        elif outer == "bzip2":
            data = bz2.decompress(data)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as error:
        raise ValueError(f"{os.fspath(path)}: corrupt compressed file ({error})") from error
    inner = _compression(data) if outer else None
    if inner:
        # Compressed twice (`gzip` run on a `.gz` file, a server that gzips a download
        # again): the inner stream's bytes were reported as "invalid UTF-8 byte 0x8b at
        # column 2" of line 1, which says nothing of the cause.
        raise ValueError(
            f"{os.fspath(path)}: compressed twice ({inner} data inside {outer}); the "
            "readers take UTF-8 text compressed once: decompress the outer layer first"
        )
    for magic, what in _REFUSED_MAGIC:
        if data.startswith(magic):
            raise ValueError(
                f"{os.fspath(path)}: {what}; the readers take UTF-8 text, plain or compressed "
                "with gzip, bzip2 or xz: convert it first"
            )
    if data.startswith(_TAR_MAGICS, _TAR_MAGIC_OFFSET):
        raise ValueError(
            f"{os.fspath(path)}: a tar archive; the readers take one UTF-8 text file, plain or "
            "compressed with gzip, bzip2 or xz: extract the file from the archive first"
        )
    head = data[:_SNIFF_BYTES]
    head = head[: len(head) // 2 * 2]  # whole code units: a one-byte file is no UTF-16
    if head and (not any(head[0::2]) or not any(head[1::2])):
        raise ValueError(
            f"{os.fspath(path)}: a UTF-16 or UTF-32 text file without a byte order mark "
            "(every other byte is NUL); the readers take UTF-8 text, plain or compressed with "
            "gzip, bzip2 or xz: convert it first"
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return _LINE_START_BOM.sub("", data.decode("utf-8", errors="surrogateescape"))


def _compression(data):
    """The format ("gzip", "xz" or "bzip2") whose magic bytes start ``data``, or None."""
    if data.startswith(_GZIP_MAGIC):
        return "gzip"
    if data.startswith(_XZ_MAGIC):
        return "xz"
    if _BZIP2_MAGIC.match(data):
        return "bzip2"
    return None


def _line_end(text):
    """What ends the lines of ``text``: "\\n" (a "\\r" before it is stripped by the caller),
    or "\\r" in a text without any "\\n" (classic Mac OS)."""
    return "\n" if "\n" in text else "\r"


def _lines(text):
    """`(line_number, line)` pairs without line ends; no phantom line after a final newline.

    Lines end in "\\n" or "\\r\\n"; in a text without any "\\n", in "\\r" (classic Mac OS
    files, as `read_classification_csv` reads them), which would otherwise make the whole
    file one line.
    """
    end = _line_end(text)
    if text.endswith(end):
        text = text[:-1]
    if not text:
        return []
    return [(number, line.removesuffix("\r")) for number, line in enumerate(text.split(end), 1)]


def _undecodable(text):
    """Reason to reject `text` if it holds bytes that were not UTF-8, or a NUL, else None."""
    match = _UNDECODABLE.search(text)
    if match is not None:
        byte = ord(match.group()) - 0xDC00
        return f"invalid UTF-8 byte 0x{byte:02x} at column {match.start() + 1}"
    # NUL is valid UTF-8 but no text has it: a file cut short by a crash (the file system
    # fills its last blocks with NULs), a binary file. Kept, a line of NULs was an example
    # (`read_text`) and a NUL inside a line part of a word, without any error.
    column = text.find("\0")
    if column >= 0:
        return f"NUL byte at column {column + 1} (a binary or damaged file?)"
    return None


def read_parallel_tsv(path, source_column=0, target_column=1, strict=True):
    """Reads translation pairs from a file of tab-separated lines: `source<TAB>target`, or
    any two columns of wider lines.

    The file's number of columns is that of most of its lines (the first line's on a tie),
    so a malformed first line is reported as itself. The Tatoeba / Anki files of
    manythings.org (the Keras translation tutorial's `fra.txt`: English, French and an
    attribution) are read with the defaults, English to French, or with
    `source_column=1, target_column=0` the other way. Blank lines are ignored; both sides are
    stripped of surrounding whitespace. There is no quoting: a `"` is part of the text (a
    Tatoeba sentence may start with one), so a field that pandas' `to_csv(sep="\t")` quoted
    (`"Er sagte ""hi""."`) keeps its quotes; write such files with `quoting=csv.QUOTE_NONE`.

    Args:
        path: str or os.PathLike. The file (plain, gzip, bzip2 or xz).
        source_column: int. Column of the source sentence (0-based; negative counts from
            the end).
        target_column: int. Column of the target sentence.
        strict: bool. Raise on the first malformed line (`True`) or skip and record it.

    Returns:
        A `LoadResult` whose `examples` are `(source, target)` string pairs.

    Raises:
        FileNotFoundError: when `path` does not exist.
        TypeError: when a column is not an int.
        ValueError: when a column is out of range for the file or both name the same one,
            or on a malformed line when `strict` (a different number of tab-separated
            columns than most lines, an empty side, bytes that are not UTF-8).

    Example:

    >>> result = read_parallel_tsv("pairs.tsv")  # doctest: +SKIP
    >>> result.examples[0]  # doctest: +SKIP
    ('Guten Morgen.', 'Good morning.')
    """
    source_column = _int_column("source_column", source_column)
    target_column = _int_column("target_column", target_column)
    problems = _Problems(strict)
    lines = [
        (number, line, _undecodable(line))
        for number, line in _lines(_read_text(path))
        if line.strip()
    ]
    counts = collections.Counter(line.count("\t") + 1 for _, line, reason in lines if not reason)
    num_columns = max(counts, key=counts.get) if counts else None  # first seen on a tie
    if num_columns is not None:
        _check_columns(
            ("source_column", source_column),
            ("target_column", target_column),
            num_columns,
            path,
            "tab-separated ",
        )
    examples = []
    for number, line, reason in lines:
        if reason is None:
            fields = line.split("\t")
            if len(fields) != num_columns:
                reason = f"expected {num_columns} tab-separated columns, found {len(fields)}"
            elif not fields[source_column].strip():
                reason = "empty source side"
            elif not fields[target_column].strip():
                reason = "empty target side"
        if reason is not None:
            problems.report(path, number, reason)
            continue
        examples.append((fields[source_column].strip(), fields[target_column].strip()))
    return LoadResult(examples=examples, skipped=problems.skipped)


def read_parallel_files(source_path, target_path, strict=True):
    """Reads translation pairs from two files aligned line by line.

    Line `i` of `source_path` translates to line `i` of `target_path`. Lines blank in
    both files are ignored, and so are blank lines at the end of one file beyond the other's
    last line; a line blank on one side only is malformed. Both sides are stripped of
    surrounding whitespace.

    Args:
        source_path: str or os.PathLike. The source-language file (plain, gzip, bzip2 or xz).
        target_path: str or os.PathLike. The target-language file (plain, gzip, bzip2 or xz).
        strict: bool. Raise on the first malformed line (`True`) or skip and record it
            (the pair is dropped; the problem is recorded against the file it is in).

    Returns:
        A `LoadResult` whose `examples` are `(source, target)` string pairs.

    Raises:
        FileNotFoundError: when a file does not exist.
        ValueError: when the files have different numbers of lines, not counting blank
            lines at the end of the longer one (always: the alignment cannot be trusted),
            when both paths name the same file (always), or on a malformed line when
            `strict`.

    Example:

    >>> result = read_parallel_files("train.de", "train.en")  # doctest: +SKIP
    """
    problems = _Problems(strict)
    source_lines = _lines(_read_text(source_path))
    target_lines = _lines(_read_text(target_path))
    if os.path.samefile(source_path, target_path):
        # Each line would be its own translation (a copy task), without any error: as
        # `read_parallel_tsv` refuses the same column for both sides.
        raise ValueError(
            f"source_path {os.fspath(source_path)!r} and target_path "
            f"{os.fspath(target_path)!r} are the same file: give the source-language and the "
            "target-language files"
        )
    # Blank lines at the end of the longer file pair with nothing (an editor's or `echo`'s
    # extra newline): they are no misalignment, and would be ignored as blank in both files.
    _drop_trailing_blank_lines(source_lines, len(target_lines))
    _drop_trailing_blank_lines(target_lines, len(source_lines))
    if len(source_lines) != len(target_lines):
        raise ValueError(
            f"{os.fspath(source_path)} has {len(source_lines)} lines but "
            f"{os.fspath(target_path)} has {len(target_lines)}: aligned files must have "
            "the same number of lines"
        )
    examples = []
    for (number, source), (_, target) in zip(source_lines, target_lines, strict=True):
        if not source.strip() and not target.strip():
            continue
        source_reason = _aligned_line_problem(source, target_path)
        target_reason = _aligned_line_problem(target, source_path)
        if source_reason is not None:
            problems.report(source_path, number, source_reason)
        if target_reason is not None:
            problems.report(target_path, number, target_reason)
        if source_reason is None and target_reason is None:
            examples.append((source.strip(), target.strip()))
    return LoadResult(examples=examples, skipped=problems.skipped)


def _drop_trailing_blank_lines(lines, count):
    """Removes blank lines from the end of `lines` while it has more than `count`."""
    while len(lines) > count and not lines[-1][1].strip():
        lines.pop()


def _aligned_line_problem(line, other_path):
    """Why a line of one aligned file is malformed (the other side is not blank), or None."""
    if not line.strip():
        return f"empty line, but not in {os.fspath(other_path)}"
    return _undecodable(line)


def _check_columns(first, second, num_columns, path, kind="", consequence=""):
    """Refuses two ``(name, index)`` columns out of range for lines of ``num_columns``
    columns, or naming the same column (negative indices count from the end)."""
    for name, column in (first, second):
        if not -num_columns <= column < num_columns:
            raise ValueError(
                f"{name}={column} is out of range for {os.fspath(path)}, whose lines have "
                f"{num_columns} {kind}columns"
            )
    if first[1] % num_columns == second[1] % num_columns:
        raise ValueError(
            f"{first[0]}={first[1]} and {second[0]}={second[1]} are the same column of "
            f"{os.fspath(path)}, whose lines have {num_columns} {kind}column(s){consequence}"
        )


def read_conll(path, word_column=0, tag_column=-1, strict=True):
    """Reads tagged sentences from a CoNLL or CoNLL-U file.

    One token per line, its columns separated by tabs (or, on lines without a tab, by
    runs of spaces); sentences separated by blank lines. Only ASCII spaces count as
    spaces: other whitespace (a no-break space, U+3000) is part of the word. The tags
    are taken as they are, so POS tags and BIO/IOBES span tags (`B-PER`, `I-PER`,
    `S-LOC`, `E-ORG`, `O`) in any column work alike. The file's token lines (the lines
    that are not blank, not `-DOCSTART-` and do not start with `#`) set its number of
    columns, the most common count among them (the first line's on a tie), and whether
    they are tab-separated (as the first line of that count). A file whose
    ``word_column`` and ``tag_column`` are the same column (one column: untagged words)
    raises ValueError.

    Comments: a line starting with `#` before a sentence's first token is a comment
    (as in CoNLL-U `# text = ...`) unless it has the shape of the file's token lines,
    that is, the same number of columns, split the same way (tabs or runs of spaces);
    then it is a token whose word starts with `#` (`#\\tO`, `#MeToo\\tB-MISC`). In
    10-column files (CoNLL-U, CoNLL-X), whose first column is the token number, every
    `#` line before a sentence is a comment; so is every `#` line of a file with no
    other token line. A `#` line inside a sentence is always a token line. In a
    space-separated file, write comments with a different number of fields than the
    token lines: `# O` in a two-column file is the token `#` tagged `O`.

    Skipped silently: comments, `-DOCSTART-` lines (CoNLL-2003; such a line also ends the
    sentence before it, blank line or not), and in 10-column
    CoNLL-U files the multiword-token lines (ID `1-2`) and empty nodes (ID `1.1`).
    A sentence with a malformed line is dropped as a whole with `strict=False` (each
    malformed line is recorded), so that words and tags never get out of step.

    Args:
        path: str or os.PathLike. The file (plain, gzip, bzip2 or xz).
        word_column: int. Column of the word (0-based; negative counts from the end).
            0 for CoNLL-2003; 1 (FORM) for CoNLL-U.
        tag_column: int. Column of the tag. -1 (last) for CoNLL-2003 NER; 3 (UPOS) for
            CoNLL-U.
        strict: bool. Raise on the first malformed line (`True`) or skip and record it.

    Returns:
        A `LoadResult` whose `examples` are `(words, tags)` pairs of equal-length lists
        of strings, one per sentence.

    Raises:
        FileNotFoundError: when `path` does not exist.
        TypeError: when a column is not an int.
        ValueError: when a column is out of range for the file, or on a malformed line
            when `strict` (a different number of columns, an empty word or tag, bytes
            that are not UTF-8).

    Example:

    >>> result = read_conll("train.conllu", word_column=1, tag_column=3)  # doctest: +SKIP
    >>> result.examples[0]  # doctest: +SKIP
    (['The', 'cat', 'sat', '.'], ['DET', 'NOUN', 'VERB', 'PUNCT'])
    """
    word_column = _int_column("word_column", word_column)
    tag_column = _int_column("tag_column", tag_column)
    problems = _Problems(strict)
    lines = _lines(_read_text(path))
    shape = _conll_shape(lines)
    num_columns = None if shape is None else shape[0]
    if num_columns is not None:
        # The same column twice: a file of untagged words (one column) would give each word
        # as its own tag.
        _check_columns(
            ("word_column", word_column),
            ("tag_column", tag_column),
            num_columns,
            path,
            consequence=": no tags",
        )
    examples = []
    words, tags, broken = [], [], False

    def end_sentence():
        nonlocal words, tags, broken
        if words and not broken:
            examples.append((words, tags))
        words, tags, broken = [], [], False

    for number, line in lines:
        if not line.strip():
            end_sentence()
            continue
        if not words and not broken and _is_conll_comment(line, shape):
            continue
        reason = _undecodable(line)
        if reason is None:
            fields = _conll_fields(line)
            if fields[0] == "-DOCSTART-":
                # A document boundary ends the sentence even without a blank line before it:
                # the last sentence of one document and the first of the next were one.
                end_sentence()
                continue
            if len(fields) == _CONLLU_COLUMNS and _CONLLU_SPECIAL_ID.fullmatch(fields[0]):
                continue
            if len(fields) != num_columns:
                reason = f"expected {num_columns} columns, found {len(fields)}"
            elif not fields[word_column]:
                reason = f"empty word (column {word_column})"
            elif not fields[tag_column]:
                reason = f"empty tag (column {tag_column})"
        if reason is not None:
            problems.report(path, number, reason)
            broken = True
            continue
        words.append(fields[word_column])
        tags.append(fields[tag_column])
    end_sentence()
    return LoadResult(examples=examples, skipped=problems.skipped)


def _conll_fields(line):
    """The columns of a CoNLL line: split on tabs, or on runs of spaces if it has no tab.

    Only ASCII spaces (and tabs) separate and surround columns: other whitespace (the
    no-break space U+00A0 of French and German numbers, the ideographic space U+3000)
    belongs to the word.
    """
    if "\t" in line:
        return [field.strip(" ") for field in line.split("\t")]
    return [field for field in line.split(" ") if field]


def _conll_shape(lines):
    """`(num_columns, tab_separated)` of the token lines of `lines`, or None if none.

    Token lines are those that are not blank, not `#`-led, not `-DOCSTART-` and valid
    UTF-8; their most common column count is the file's (the first line's on a tie), so
    that one malformed line, the first included, is reported where it is read and does not
    make every good line look malformed.
    """
    shapes = {}  # num_columns -> [count, tab_separated of the first such line]
    for _, line in lines:
        if not line.strip() or line.lstrip().startswith("#") or _undecodable(line):
            continue
        fields = _conll_fields(line)
        if fields[0] != "-DOCSTART-":
            shapes.setdefault(len(fields), [0, "\t" in line])[0] += 1
    if not shapes:
        return None
    num_columns = max(shapes, key=lambda n: shapes[n][0])  # the first of the most common
    return num_columns, shapes[num_columns][1]


def _is_conll_comment(line, shape):
    """Whether `line`, read before a sentence's first token, is a comment (see `read_conll`)."""
    if not line.lstrip().startswith("#"):
        return False
    # CoNLL-U / CoNLL-X token lines start with the token number, never with `#`.
    if shape is None or shape[0] == _CONLLU_COLUMNS:
        return True
    num_columns, tab_separated = shape
    return ("\t" in line) != tab_separated or len(_conll_fields(line)) != num_columns


def _csv_column(name, column):
    """``column`` as a str (a name) or a Python int (an index; a NumPy integer too)."""
    if isinstance(column, str):
        return str(column)
    index = as_int(column)
    if index is None:
        raise TypeError(f"{name} must be a column name (str) or index (int), got {column!r}")
    return index


def read_classification_csv(path, text_column="text", label_column="label", strict=True):
    """Reads labelled texts from a CSV file (RFC 4180 quoting, comma-separated).

    When a column is given by name (str), the first row is a header and the column
    is looked up in it; when both columns are given by index (int), the file has no
    header, and its number of fields is that of most of its rows (the first row's on a
    tie), so that a malformed first row is reported as itself. Quoted fields may span
    several lines (reported by the line they start on). Blank lines are ignored; text and
    label are stripped of surrounding whitespace. Labels are returned as strings: map them
    to ids yourself. Fields may be of any length (the csv module's default limit of 128 KiB
    does not apply).

    Args:
        path: str or os.PathLike. The file (plain, gzip, bzip2 or xz).
        text_column: str or int. Header name or 0-based index of the text column.
        label_column: str or int. Header name or 0-based index of the label column.
        strict: bool. Raise on the first malformed row (`True`) or skip and record it.

    Returns:
        A `LoadResult` whose `examples` are `(text, label)` string pairs.

    Raises:
        FileNotFoundError: when `path` does not exist.
        TypeError: when a column is neither a str nor an int.
        ValueError: when a named column is not in the header (or is in it twice), an
            index is out of range or both columns are the same one, or on a malformed row
            when `strict` (a different number of fields than the header or, without one,
            most rows, an empty text or label, bytes that are not UTF-8, a NUL byte, a quote
            that opens a field and is never closed: when not `strict` that line is skipped
            and reading goes on from the next), and also
            when not `strict` on a malformed header row (skipping it would read the first
            example as the header).

    Example:

    >>> result = read_classification_csv("reviews.csv", "review", "stars")  # doctest: +SKIP
    >>> result.examples[0]  # doctest: +SKIP
    ('Great value for money.', '5')
    """
    text_column = _csv_column("text_column", text_column)
    label_column = _csv_column("label_column", label_column)
    problems = _Problems(strict)
    text = _read_text(path)
    # The csv module refuses fields over 128 KiB by default (a guard for streamed input);
    # the whole file is in memory here, and long documents are valid CSV.
    field_size_limit = csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    try:
        return _read_csv_rows(path, text, text_column, label_column, problems)
    finally:
        csv.field_size_limit(field_size_limit)


def _read_csv_rows(path, text, text_column, label_column, problems):
    """The `LoadResult` of `read_classification_csv` for the file contents `text`."""
    has_header = isinstance(text_column, str) or isinstance(label_column, str)
    rows = _csv_rows(text)  # (first_line, fields or None, reason or None), blank rows left out
    if has_header:
        if not rows:
            return LoadResult(examples=[], skipped=problems.skipped)
        first_line, header, reason = rows.pop(0)
        if reason is not None:
            # The named columns are looked up in this row: skipping it, even in lenient
            # mode, would read the first example as the header.
            raise ValueError(f"{os.fspath(path)}:{first_line}: header row: {reason}")
        num_fields = len(header)
        header = [name.strip() for name in header]
    else:
        # Without a header, the rows' most common number of fields is the file's (the first
        # row's on a tie), as in `read_conll`: taken from the first row alone, a malformed
        # first row (an unquoted comma in its text) made every good row look malformed, and
        # in lenient mode it was the only row kept, with a piece of its text as the label.
        counts = collections.Counter(len(fields) for _, fields, reason in rows if reason is None)
        num_fields = max(counts, key=counts.get) if counts else None
        header = []
    if num_fields is not None:
        text_index = _csv_index("text_column", text_column, header, num_fields, path)
        label_index = _csv_index("label_column", label_column, header, num_fields, path)
        if text_index % num_fields == label_index % num_fields:
            # Each text would be its own label, without any error (`read_conll` and
            # `read_parallel_tsv` refuse the same column for both too).
            raise ValueError(
                f"text_column={text_column!r} and label_column={label_column!r} are the same "
                f"column of {os.fspath(path)}, whose rows have {num_fields} fields"
            )
    examples = []
    for first_line, row, reason in rows:
        if reason is None:
            if len(row) != num_fields:
                reason = f"expected {num_fields} fields, found {len(row)}"
            elif not row[text_index].strip():
                reason = "empty text"
            elif not row[label_index].strip():
                reason = "empty label"
        if reason is not None:
            problems.report(path, first_line, reason)
            continue
        examples.append((row[text_index].strip(), row[label_index].strip()))
    return LoadResult(examples=examples, skipped=problems.skipped)


def _csv_rows(text):
    """The non-blank rows of the CSV `text` as `(first_line, fields, reason)`, in file order.

    ``reason`` is None for a well-formed row, else why the row cannot be read (``fields`` is
    then None for a CSV error or an unterminated quote, or the fields holding bytes that are
    not UTF-8).
    """
    # One line per item, each with its line end, so that `line_num` counts lines as the other
    # readers and editors do: from a stream the csv module also ends a line at a "\r" inside
    # a quoted field, which shifted every later line number. A file without any "\n" has
    # "\r" line ends (classic Mac OS). The last line gets a line end too, so that a complete
    # row never reads past the last line: the reader asks for another line while building a
    # row only when a quoted field is still open at the end of the file.
    end = _line_end(text)
    parts = text.split(end)
    if parts[-1] == "":
        parts.pop()
    source = [part + end for part in parts]
    lines = _TrackedLines(source, 0)
    reader = csv.reader(lines)
    rows = []
    while True:
        first_line = lines.start + reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            rows.append((first_line, None, f"CSV error: {error}"))
            continue
        if lines.exhausted:
            # The csv module (in its default, non-strict mode) ends a quoted field left open
            # at the end of the file there, silently: one stray quote made the rest of the
            # file a single malformed row ("expected 2 fields, found 1"), and in lenient mode
            # every later row was lost. The line is reported as what it is, and reading goes
            # on from the next line.
            reason = (
                "unterminated quoted field: a '\"' opened on this line is never closed (the "
                "rest of the file would be one field)"
            )
            rows.append((first_line, None, reason))
            lines = _TrackedLines(source, first_line)
            reader = csv.reader(lines)
            continue
        if not row or not "".join(row).strip():
            continue
        # Judged on the row's lines as they are in the file: on its fields joined by commas,
        # quotes and line breaks left out, the column of a bad byte was not the file's.
        row_lines = source[first_line - 1 : lines.start + reader.line_num]
        rows.append((first_line, row, _row_problem(row_lines, first_line)))
    return rows


def _row_problem(row_lines, first_line):
    """`_undecodable` of the lines of a CSV row starting on line ``first_line``; a problem on a
    later line of a multi-line row names that line."""
    for offset, line in enumerate(row_lines):
        reason = _undecodable(line)
        if reason is not None:
            return reason if offset == 0 else f"{reason} of line {first_line + offset}"
    return None


class _TrackedLines:
    """An iterator over ``lines[start:]`` that records whether it was asked past its end."""

    def __init__(self, lines, start):
        self.start = start
        self.exhausted = False
        self._iterator = iter(lines[start:])

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._iterator)
        except StopIteration:
            self.exhausted = True
            raise


def _csv_index(name, column, header, num_fields, path):
    if isinstance(column, str):
        if column not in header:
            raise ValueError(
                f"{name}={column!r} is not a column of {os.fspath(path)}; its header has {header}"
            )
        if header.count(column) > 1:
            # Taking the first would read the other column's values without a word.
            raise ValueError(
                f"{name}={column!r} names {header.count(column)} columns of "
                f"{os.fspath(path)} (header {header}); give its index instead (the first row "
                "is still read as the header while the other column is named)"
            )
        return header.index(column)
    if not -num_fields <= column < num_fields:
        raise ValueError(
            f"{name}={column} is out of range for {os.fspath(path)}, whose rows have "
            f"{num_fields} fields"
        )
    return column


def read_text(path, strict=True):
    """Reads the lines of a plain-text file (language modelling).

    Lines that are empty or only whitespace are ignored; other lines are kept as they
    are, without their line end.

    Args:
        path: str or os.PathLike. The file (plain, gzip, bzip2 or xz).
        strict: bool. Raise on the first line that is not UTF-8 (`True`) or skip and
            record it.

    Returns:
        A `LoadResult` whose `examples` are the lines (strings).

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: on a line with bytes that are not UTF-8 when `strict`.

    Example:

    >>> result = read_text("corpus.txt.gz")  # doctest: +SKIP
    """
    problems = _Problems(strict)
    examples = []
    for number, line in _lines(_read_text(path)):
        if not line.strip():
            continue
        reason = _undecodable(line)
        if reason is not None:
            problems.report(path, number, reason)
            continue
        examples.append(line)
    return LoadResult(examples=examples, skipped=problems.skipped)

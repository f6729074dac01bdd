"""The translator recipe trains on a source and a target file aligned line by line
(--train-source/--train-target with their dev and test twins: the layout of Europarl and of
OPUS' Moses-format corpora), as it does on TSV files: the pairs are read with
`read_parallel_files`, wrong combinations of flags are refused before any training, a file
that cannot be used is named with its flag, and a killed run resumes only with the same
contents of every file."""

import bz2
import gzip
import json

import pytest

from keras_seq.datasets import load_bible, load_ding
from tests.recipes.recipe_modules import load_recipe
from tests.recipes.test_own_data import TINY, refuse_to_start, run_recipe

SPLITS = ("train", "dev", "test")


def write_aligned(directory, pairs, openers=(open, open)):
    """``{split: (source_path, target_path)}`` of ``pairs`` (``{split: [(source, target)]}``)
    written as two files a split, line i of one the translation of line i of the other;
    ``openers`` write the source and the target files (``gzip.open``: compressed)."""
    paths = {}
    for split, examples in pairs.items():
        files = []
        for side, opener in zip(("de", "en"), openers, strict=True):
            path = directory / f"{split}.{side}"
            with opener(path, "wt", encoding="utf-8") as f:
                column = 0 if side == "de" else 1
                f.write("".join(pair[column] + "\n" for pair in examples))
            files.append(path)
        paths[split] = tuple(files)
    return paths


def aligned_flags(paths):
    return [
        item
        for split in SPLITS
        for side, path in zip(("source", "target"), paths[split], strict=True)
        for item in (f"--{split}-{side}", str(path))
    ]


@pytest.fixture(scope="module")
def ding_pairs():
    return {
        "train": load_ding("train")[:300],
        "dev": load_ding("dev")[:20],
        "test": load_ding("test")[:25],
    }


@pytest.fixture
def translate():
    return load_recipe("translate", prefix="aligned")


def test_aligned_files_are_read_as_pairs_compressed_or_not(tmp_path, translate, ding_pairs):
    # The source files plain, the target files gzipped: each file read as it is.
    paths = write_aligned(tmp_path, ding_pairs, openers=(open, gzip.open))
    args = translate.make_parser().parse_args(aligned_flags(paths))
    assert translate.pair_paths(args) == {
        split: (str(source), str(target)) for split, (source, target) in paths.items()
    }
    assert translate.load_pairs(translate.pair_paths(args)) == ding_pairs


def test_aligned_and_tsv_files_read_the_same_pairs(tmp_path, translate, ding_pairs):
    aligned = write_aligned(tmp_path, ding_pairs, openers=(bz2.open, open))
    tsv = {}
    for split, examples in ding_pairs.items():
        tsv[split] = tmp_path / f"{split}.tsv"
        tsv[split].write_text("".join(f"{s}\t{t}\n" for s, t in examples), encoding="utf-8")
    from_tsv = translate.load_pairs({split: str(path) for split, path in tsv.items()})
    from_aligned = translate.load_pairs(
        {split: tuple(map(str, files)) for split, files in aligned.items()}
    )
    assert from_aligned == from_tsv == ding_pairs


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--train-source", "{de}", "--dev-source", "{de}", "--test-source", "{de}"],
            "--train-source, --dev-source and --test-source need their aligned --train-target, "
            "--dev-target and --test-target files",
        ),
        (
            ["--train-target", "{en}", "--dev-target", "{en}", "--test-target", "{en}"],
            "--train-target, --dev-target and --test-target need their aligned --train-source",
        ),
        (
            ["--train-source", "{de}", "--train-target", "{en}"],
            "missing: --dev-source, --test-source",
        ),
        (
            ["--train-tsv", "{tsv}", "--dev-tsv", "{tsv}", "--test-tsv", "{tsv}"]
            + ["--dev-target", "{en}"],
            "--train-tsv and --dev-target are two ways to give your pairs",
        ),
        (
            ["--train-source", "{dir}", "--dev-source", "{de}", "--test-source", "{de}"],
            "--train-source {dir} is a directory; give the source-language file",
        ),
        (
            ["--train-source", "{de}", "--dev-source", "{de}", "--test-source", "{de}"]
            + ["--train-target", "{en}", "--dev-target", "{nope}", "--test-target", "{en}"],
            "--dev-target {nope}: no such file",
        ),
    ],
)
def test_wrong_aligned_file_flags_exit_before_training(tmp_path, translate, argv, message):
    names = {"de": tmp_path / "a.de", "en": tmp_path / "a.en", "tsv": tmp_path / "a.tsv"}
    names["de"].write_text("Guten Morgen.\n", encoding="utf-8")
    names["en"].write_text("Good morning.\n", encoding="utf-8")
    names["tsv"].write_text("Guten Morgen.\tGood morning.\n", encoding="utf-8")
    names.update(dir=tmp_path, nope=tmp_path / "nope.en")
    translate.prepare = refuse_to_start
    with pytest.raises(SystemExit) as exit_info:
        translate.main(["--out", str(tmp_path / "out"), *(a.format(**names) for a in argv)])
    assert message.format(**names) in str(exit_info.value.code)
    assert not (tmp_path / "out").exists()


def loading_error(translate, argv):
    """The message with which reading the pairs of the flags ``argv`` exits."""
    args = translate.make_parser().parse_args(argv)
    with pytest.raises(SystemExit) as exit_info:
        translate.load_pairs(translate.pair_paths(args))
    return str(exit_info.value.code)


def test_unusable_aligned_files_are_named_with_their_flags(tmp_path, translate, ding_pairs):
    paths = write_aligned(tmp_path, ding_pairs)
    dev_source, dev_target = paths["dev"]
    # One line more in the source file: the alignment cannot be trusted, whatever `strict`.
    with open(dev_source, "a", encoding="utf-8") as f:
        f.write("Noch ein Satz.\n")
    assert loading_error(translate, aligned_flags(paths)) == (
        f"--dev-source/--dev-target: {dev_source} has 21 lines but {dev_target} has 20: "
        "aligned files must have the same number of lines"
    )
    dev_source.write_text("".join(s + "\n" for s, _ in ding_pairs["dev"]), encoding="utf-8")
    # The same file on both sides: each line would be its own translation.
    source = str(paths["test"][0])
    argv = aligned_flags(paths)[:8] + ["--test-source", source, "--test-target", source]
    assert loading_error(translate, argv) == (
        f"--test-source/--test-target {source} / {source}: source_path {source!r} and "
        f"target_path {source!r} are the same file: give the source-language and the "
        "target-language files"
    )
    # Every line blank on one side only: malformed, skipped and counted, no pair left.
    train_source, train_target = paths["train"]
    train_source.write_text("Hallo.\n\n", encoding="utf-8")
    train_target.write_text("\nHello.\n", encoding="utf-8")
    assert loading_error(translate, aligned_flags(paths)) == (
        f"--train-source/--train-target {train_source} / {train_target}: no source and "
        "target pair in the files"
    )


def test_a_backup_is_not_resumed_once_an_aligned_file_is_rewritten(tmp_path, translate, ding_pairs):
    common = load_recipe("_common", prefix="aligned")
    paths = write_aligned(tmp_path, ding_pairs)
    argv = ["--quick", "--out", str(tmp_path / "out"), *aligned_flags(paths)]
    common.prepare(translate.make_parser().parse_args(argv), translate.CONFIGS)
    settings = json.loads((tmp_path / "out" / "backup" / "settings.json").read_text())
    assert sorted(settings["data"]) == [
        f"{split}_{side}" for split in ("dev", "test", "train") for side in ("source", "target")
    ]
    # What a run killed after its first epoch leaves (AtomicBackupAndRestore's commit).
    state = {"epoch": 1, "weights": "epoch-1.weights.h5", "history": [{"loss": 1.0}]}
    (tmp_path / "out" / "backup" / "training_state.json").write_text(json.dumps(state))
    _, run = common.prepare(translate.make_parser().parse_args(argv), translate.CONFIGS)
    assert run.initial_epoch == 1
    # The target side of the training data rewritten under its name (the same line count).
    target = paths["train"][1]
    target.write_text(target.read_text(encoding="utf-8").upper(), encoding="utf-8")
    with pytest.raises(SystemExit, match=rf"the contents of --train-target {target} changed"):
        common.prepare(translate.make_parser().parse_args(argv), translate.CONFIGS)


@pytest.mark.slow
def test_translator_trains_and_scores_on_own_aligned_files(tmp_path, ding_pairs):
    paths = write_aligned(tmp_path, ding_pairs, openers=(open, gzip.open))
    out = tmp_path / "run"
    stdout, results = run_recipe("translate", out, *TINY, "--beam-size", "2", *aligned_flags(paths))
    assert "pairs: train 300, dev 20 (for selection), test 25" in stdout
    assert results["train_pairs"] == 300
    hypotheses = (out / "test.hyp.txt").read_text(encoding="utf-8").splitlines()
    assert len(hypotheses) == 25  # line i: the translation of test source line i


@pytest.mark.parametrize(
    "corpus, first",
    [
        ("ding", load_ding("test")[0]),
        ("bible_en_es", load_bible("test")[0]),
        ("bible_es_en", load_bible("test", source="es")[0]),
    ],
)
def test_corpus_names_the_bundled_pairs(translate, corpus, first):
    args = translate.make_parser().parse_args(["--corpus", corpus])
    assert translate.pair_paths(args) == {}
    pairs = translate.load_pairs({}, args.corpus)
    assert pairs["test"][0] == first
    assert [len(pairs[split]) for split in SPLITS] == [
        len(translate.CORPORA[corpus](split)) for split in SPLITS
    ]


def test_a_corpus_beside_your_own_files_exits_before_training(tmp_path, translate, ding_pairs):
    paths = write_aligned(tmp_path, ding_pairs)
    translate.prepare = refuse_to_start
    with pytest.raises(SystemExit) as exit_info:
        translate.main(
            ["--out", str(tmp_path / "out"), "--corpus", "bible_en_es", *aligned_flags(paths)]
        )
    assert str(exit_info.value.code).startswith(
        "--corpus bible_en_es is a bundled corpus; your own files (--train-tsv or "
        "--train-source/--train-target, with their dev and test twins) replace it"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_translator_trains_and_scores_on_the_bundled_bible(tmp_path):
    out = tmp_path / "run"
    stdout, results = run_recipe(
        "translate",
        out,
        *TINY,
        "--corpus",
        "bible_es_en",
        "--max-train-pairs",
        "400",
        "--max-eval-examples",
        "12",
        "--beam-size",
        "2",
        "--set",
        "max_length=80",
    )
    assert "pairs: train 400, dev 12 (for selection), test 12" in stdout
    assert (results["corpus"], results["train_pairs"]) == ("bible_es_en", 400)
    hypotheses = (out / "test.hyp.txt").read_text(encoding="utf-8").splitlines()
    assert len(hypotheses) == 12

"""Recipes probe round 5: the tagger's tag set under a small --max-train-examples, arguments
and --set values refused before --out is set up (--length-penalty, --final-weights, dropout,
pooling, vocabulary_size, `none`, --out a file, a malformed TF_CONFIG, a corrupt --train-tsv),
a backup kept until the results are written, and --steps-per-epoch as a cap."""

import gzip
import json

import keras
import pytest
import tensorflow as tf

from keras_seq.callbacks import AtomicBackupAndRestore
from keras_seq.datasets.brown import UNIVERSAL_TAGS
from tests.recipes.recipe_modules import load_recipe as _load

# A tagger trained for one step on 3 sentences, scored on 30.
TINY_TAGGER = ["--quick", "--epochs", "1", "--steps-per-epoch", "1", "--max-train-examples", "3"]
TINY_TAGGER += ["--max-eval-examples", "30", "--set", "units=4", "--set", "embedding_dim=4"]


def load_recipe(name):
    return _load(name, "recipes_round5")


common = load_recipe("_common")


def prepared(out, configs, *argv):
    args = common.recipe_parser("test", "unused").parse_args(["--out", str(out), *argv])
    return common.prepare(args, configs)[0]


def test_tagger_tag_set_is_the_corpus_tag_set_whatever_the_train_cap(tmp_path, capsys):
    # The tags were those of the train sentences kept: 3 sentences hold 9 of the 12, and the
    # dev sentences' PRON and NUM made `tagging_dataset` raise after --out was set up.
    results = load_recipe("tagger").main(["--out", str(tmp_path), *TINY_TAGGER])
    assert f"12 tags: {' '.join(sorted(UNIVERSAL_TAGS))}" in capsys.readouterr().out
    model = keras.saving.load_model(tmp_path / "model.keras")
    assert model.tag_vocabulary == sorted(UNIVERSAL_TAGS)
    assert results["test_tokens"] > 0 and (tmp_path / "results.json").exists()
    assert not (tmp_path / "backup").exists()  # deleted at the end of a successful run


def test_backup_is_kept_until_the_results_are_written(tmp_path, capsys):
    # The backup was deleted when `fit` ended: a failure while scoring (an unwritable
    # --final-weights, a Ctrl-C during the test decoding) made the rerun train from epoch 1.
    tagger = load_recipe("tagger")
    argv = ["--out", str(tmp_path), *TINY_TAGGER]
    write_history = tagger.write_history

    def interrupted_after_fit(*args):
        write_history(*args)
        raise KeyboardInterrupt("Ctrl-C while scoring")

    tagger.write_history = interrupted_after_fit
    with pytest.raises(KeyboardInterrupt):
        tagger.main(argv)
    assert AtomicBackupAndRestore.saved_state(tmp_path / "backup")["epoch"] == 1
    assert not (tmp_path / "results.json").exists()
    capsys.readouterr()

    tagger.write_history = write_history
    tagger.main(argv)
    out = capsys.readouterr().out
    assert f"resuming from the backup in {tmp_path / 'backup'}: epoch 2" in out
    assert "Epoch 1/1" not in out  # nothing trained again
    assert json.loads((tmp_path / "history.json").read_text())["loss"][0] > 0
    assert (tmp_path / "results.json").exists()
    assert not (tmp_path / "backup").exists()


@pytest.mark.parametrize("value", ["nan", "-0.5", "inf"])
def test_translate_length_penalty_is_refused_at_parse_time(capsys, value):
    # A plain float: nan or a negative penalty failed in `Seq2Seq.translate`, after training.
    translate = load_recipe("translate")
    translate.prepare = None  # the parser must exit before the recipe prepares anything
    with pytest.raises(SystemExit) as info:
        translate.main(["--length-penalty", value])
    assert info.value.code == 2
    message = f"argument --length-penalty: expected a number >= 0, got '{value}'"
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def test_final_weights_that_cannot_be_written_are_refused_before_out_is_set_up(tmp_path):
    # Found only when `fit` ended (IsADirectoryError), after the backup was deleted.
    configs = load_recipe("tagger").CONFIGS
    directory = tmp_path / "weights"
    directory.mkdir()
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        prepared(out, configs, "--final-weights", str(directory))
    assert info.value.code == (
        f"--final-weights {directory} is a directory; give a file name, e.g. "
        f"{directory}/weights.npz"
    )
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit, match=f"^--final-weights {blocker}/w.npz: cannot create"):
        prepared(out, configs, "--final-weights", str(blocker / "w.npz"))
    assert not out.exists()
    prepared(out, configs, "--final-weights", str(tmp_path / "new" / "w.npz"))
    assert (tmp_path / "new").is_dir()


@pytest.mark.parametrize(
    "recipe, assignment, message",
    [
        # `none` was taken for every key: tie_embeddings=None reached the model.
        ("translate", "tie_embeddings=none", "cannot read 'none' as the bool that"),
        ("translate", "units=none", "cannot read 'none' as the int that 'units' holds"),
        ("classifier", "pooling=none", "pooling must be one of last, mean, max, got 'none'"),
        ("classifier", "pooling=median", "pooling must be one of last, mean, max, got 'median'"),
        ("classifier", "dropout=1.0", "dropout must be in [0, 1) (a rate), got 1.0"),
        ("translate", "dropout=1.5", "dropout must be in [0, 1) (a rate), got 1.5"),
        ("translate", "vocabulary_size=200", "vocabulary_size must be >= 261, got 200"),
        ("language_model", "vocabulary_size=5", "vocabulary_size must be >= 261, got 5"),
    ],
)
def test_values_the_model_refuses_exit_before_out_is_set_up(tmp_path, recipe, assignment, message):
    # Each one was a traceback from the model, after --out, its backup settings (and the
    # classifier's vocabulary, the translator's data) were set up.
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        load_recipe(recipe).main(["--quick", "--out", str(out), "--set", assignment])
    assert message in str(info.value.code)
    assert not out.exists()


def test_set_none_still_works_for_an_entry_that_may_be_none(tmp_path):
    config = prepared(
        tmp_path, load_recipe("tagger").CONFIGS, "--quick", "--set", "max_train_sentences=none"
    )
    assert config["max_train_sentences"] is None


def test_out_naming_a_file_exits_with_a_message(tmp_path):
    # FileExistsError: [Errno 17] from os.makedirs, as a traceback.
    path = tmp_path / "afile"
    path.write_text("")
    with pytest.raises(SystemExit) as info:
        prepared(path, load_recipe("tagger").CONFIGS)
    assert info.value.code == f"--out {path} is a file, not a directory"


def test_a_malformed_tf_config_is_named(monkeypatch):
    # json.decoder.JSONDecodeError from TF's resolver, which did not say TF_CONFIG.
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]} "task": {}}')
    with pytest.raises(SystemExit) as info:
        common.make_strategy("multi_worker")
    assert str(info.value.code).startswith(
        "--strategy multi_worker: the TF_CONFIG environment variable is not valid JSON "
        "(Expecting ',' delimiter: line 1 column 41"
    )


def test_a_corrupt_train_tsv_names_the_flag_and_the_file(tmp_path):
    # ValueError: data/bad.tsv.gz: corrupt compressed file (...), as a traceback.
    good = tmp_path / "good.tsv"
    good.write_text("a\tb\n", encoding="utf-8")
    bad = tmp_path / "bad.tsv.gz"
    bad.write_bytes(gzip.compress(b"a\tb\n" * 100)[:15])  # cut inside the stream
    translate = load_recipe("translate")
    with pytest.raises(SystemExit) as info:
        translate.load_pairs({"train": str(bad), "dev": str(good), "test": str(good)})
    assert str(info.value.code).startswith(f"--train-tsv: {bad}: corrupt compressed file (")
    directory = tmp_path / "a_directory"
    directory.mkdir()
    with pytest.raises(SystemExit) as info:
        translate.load_pairs({"train": str(good), "dev": str(directory), "test": str(good)})
    assert str(info.value.code).startswith(f"--dev-tsv {directory}: ")


def test_steps_per_epoch_is_a_cap_and_resume_skips_the_capped_steps(tmp_path):
    # --steps-per-epoch 5 on 1 batch made each "epoch" 5 passes over the data, and a resumed
    # run would have skipped 5 batches per epoch.
    dataset = tf.data.Dataset.range(5).batch(2)  # 3 batches: [0 1] [2 3] [4]
    run = common.Run(None, True, str(tmp_path), str(tmp_path / "backup"), 0, [], None)
    assert common.train_stream(run, dataset, 10)[1] == 3
    assert common.train_stream(run, dataset, 2)[1] == 2  # a smaller one still cuts the epoch
    resumed = common.Run(None, True, str(tmp_path), str(tmp_path / "backup"), 1, [], None)
    stream, steps = common.train_stream(resumed, dataset, 10)
    assert steps == 3
    assert [batch.numpy().tolist() for batch in stream.take(2)] == [[0, 1], [2, 3]]
    # A dataset of unknown length keeps the value given.
    unknown = dataset.filter(lambda batch: tf.size(batch) > 0)
    assert common.train_stream(run, unknown, 10)[1] == 10


def test_translate_hypotheses_file_holds_one_line_per_translation(tmp_path):
    # test.hyp.txt wrote each translation as it came: a decoded "\n" (the byte token
    # <0x0A>) shifted every later line against the test sources.
    path = tmp_path / "test.hyp.txt"
    load_recipe("translate").write_hypotheses(path, ["a\nb", "c\r\nd\u2028e\x85", "", "f"])
    assert path.read_text(encoding="utf-8").splitlines() == ["a b", "c  d e ", "", "f"]

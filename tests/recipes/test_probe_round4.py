"""Recipes probe round 4: --set on list entries and on entries None in one configuration,
meaningless numbers refused before training, an empty training set, --final-weights written to
the path given, a resumed `fit` that leaves later fits of the model alone, and the translate
recipe's epoch count after a resume."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.callbacks import AtomicBackupAndRestore
from tests.callbacks.test_atomic_backup_and_restore import Interrupt
from tests.recipes.recipe_modules import load_recipe as _load


def load_recipe(name):
    return _load(name, "recipes_round4")


common = load_recipe("_common")


def prepared(tmp_path, configs, *argv):
    args = common.recipe_parser("test", "unused").parse_args(["--out", str(tmp_path), *argv])
    return common.prepare(args, configs)[0]


def test_set_reads_a_list_entry(tmp_path):
    # `hidden_units=128,64` was kept as the str '128,64' (the classifier then refused it after
    # loading the data and learning its vocabulary): no list entry could be set at all.
    config = {"hidden_units": [64], "units": 8}
    assert common.parse_overrides(["hidden_units=128,64"], config) == {"hidden_units": [128, 64]}
    assert common.parse_overrides(["hidden_units=[32]"], config) == {"hidden_units": [32]}
    assert common.parse_overrides(["hidden_units="], config) == {"hidden_units": []}
    with pytest.raises(SystemExit, match="cannot read 'a' as the list that 'hidden_units'"):
        common.parse_overrides(["hidden_units=a"], config)
    with pytest.raises(SystemExit, match="expected comma-separated items"):
        common.parse_overrides(["hidden_units=1,,2"], config)
    classifier = load_recipe("classifier")
    config = prepared(tmp_path, classifier.CONFIGS, "--quick", "--set", "hidden_units=128, 64")
    assert config["hidden_units"] == [128, 64]


def test_set_on_an_entry_none_in_this_configuration_takes_the_other_ones_type(tmp_path):
    # The translate full configuration learns its vocabulary from every sentence
    # (tokenizer_sentences None); the quick one holds an int. '5.0' and 'abc' were kept as
    # strings, and `train[:'abc']` failed after the data was loaded.
    translate = load_recipe("translate")
    config = prepared(tmp_path / "a", translate.CONFIGS, "--set", "tokenizer_sentences=500")
    assert config["tokenizer_sentences"] == 500
    for text in ("abc", "5.0"):
        with pytest.raises(SystemExit, match=f"cannot read '{text}' as the int"):
            prepared(tmp_path / "b", translate.CONFIGS, "--set", f"tokenizer_sentences={text}")
    config = prepared(
        tmp_path / "c", translate.CONFIGS, "--quick", "--set", "tokenizer_sentences=none"
    )
    assert config["tokenizer_sentences"] is None  # all sentences, as in the full config


@pytest.mark.parametrize(
    "recipe, assignment, message",
    [
        # A negative count sliced the data silently (train[:-100] dropped 100 sentences).
        ("tagger", "max_train_sentences=-100", "max_train_sentences must be an int >= 1 (or none)"),
        (
            "translate",
            "tokenizer_sentences=-5",
            "tokenizer_sentences must be an int >= 1 (or none)",
        ),
        ("translate", "dev_examples=-5", "dev_examples must be an int >= 1, got -5"),
        # `none` is only for an entry that may be None (round 5).
        (
            "translate",
            "dev_examples=none",
            "--set 'dev_examples=none': cannot read 'none' as the int",
        ),
        ("translate", "units=0", "units must be an int >= 1, got 0"),
        ("language_model", "sequence_length=0", "sequence_length must be an int >= 1, got 0"),
        # Adam takes a negative or NaN learning rate without a word.
        ("translate", "learning_rate=-0.001", "learning_rate must be a finite float >= 0"),
        ("tagger", "learning_rate=nan", "learning_rate must be a finite float >= 0, got nan"),
        ("classifier", "hidden_units=64,0", "hidden_units must be a list of ints >= 1"),
    ],
)
def test_meaningless_numbers_are_refused_before_training(tmp_path, recipe, assignment, message):
    module = load_recipe(recipe)
    with pytest.raises(SystemExit, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        prepared(tmp_path, module.CONFIGS, "--quick", "--set", assignment)


def test_meaningful_values_still_pass(tmp_path):
    translate = load_recipe("translate")
    argv = ["--quick", "--set", "dropout=0", "--set", "learning_rate=1e-4", "--set", "units=1"]
    config = prepared(tmp_path, translate.CONFIGS, *argv)
    assert (config["dropout"], config["learning_rate"], config["units"]) == (0.0, 1e-4, 1)


def test_an_empty_training_set_exits_instead_of_training_nothing(tmp_path):
    # Every pair longer than max_length: the pipeline keeps nothing. Without --steps-per-epoch
    # this was "`dataset` has no known length (0)" (it has: 0); with it, `fit` ran its epochs
    # on no batch (Keras warns only) and the recipe wrote a model trained on nothing.
    run = common.Run(None, True, str(tmp_path), str(tmp_path / "backup"), 0, [], None)
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 3), np.int32)).batch(2)
    for steps in (None, 3):
        with pytest.raises(SystemExit, match="^the training data holds no batch"):
            common.train_stream(run, empty, steps)
    stream, steps = common.train_stream(run, tf.data.Dataset.range(5).batch(2))
    assert steps == 3 and [b.numpy().tolist() for b in stream.take(4)] == [
        [0, 1],
        [2, 3],
        [4],
        [0, 1],
    ]


def test_final_weights_are_written_to_the_path_given(tmp_path):
    # np.savez(name) adds '.npz' to a name without it (--final-weights w.bin wrote w.bin.npz),
    # and a missing directory failed after training, once the backup was deleted.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "new dir" / "weights.bin"
    common.write_weights(str(path), model)
    assert sorted(os.listdir(tmp_path / "new dir")) == ["weights.bin"]
    with np.load(path) as saved:
        assert sorted(saved) == ["w0", "w1"]
        np.testing.assert_array_equal(saved["w0"], model.weights[0].numpy())


def test_a_resumed_fit_leaves_the_later_fits_of_the_model_alone(tmp_path):
    # The restored epoch was left in `model._initial_epoch` (as Keras' BackupAndRestore does):
    # every later `fit` of that model, with or without a backup, started at it (epochs [2]
    # instead of [0, 1, 2]).
    x = np.linspace(0, 1, 24, dtype="float32").reshape(8, 3)
    y = x.sum(axis=1, keepdims=True)

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        m.compile("sgd", "mse")
        return m

    backup = str(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        model().fit(
            x, y, epochs=4, verbose=0, callbacks=[AtomicBackupAndRestore(backup), Interrupt(2)]
        )
    resumed = model()
    history = resumed.fit(x, y, epochs=4, verbose=0, callbacks=[AtomicBackupAndRestore(backup)])
    assert history.epoch == [2, 3]
    assert resumed.fit(x, y, epochs=3, verbose=0).epoch == [0, 1, 2]
    callbacks = [AtomicBackupAndRestore(backup)]
    assert resumed.fit(x, y, epochs=2, verbose=0, callbacks=callbacks).epoch == [0, 1]


def test_a_backup_holding_every_epoch_leaves_later_fits_alone(tmp_path):
    # No epoch runs (the backup holds all of them): the hook is put back at the end of `fit`.
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    backup = str(tmp_path / "backup")
    callback = AtomicBackupAndRestore(backup, delete_checkpoint=False)
    m.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert AtomicBackupAndRestore.saved_state(backup)["epoch"] == 2
    assert m.fit(x, y, epochs=2, verbose=0, callbacks=[callback]).epoch == []
    assert m.fit(x, y, epochs=2, verbose=0).epoch == [0, 1]


@pytest.mark.slow
def test_translate_results_count_the_epochs_of_a_resumed_run(tmp_path, capsys):
    # results.json's epochs_run counted only the epochs of the process that finished the run
    # (1 instead of 2 here), unlike history.json, which covers every epoch.
    translate = load_recipe("translate")
    pairs = [("Guten Morgen.", "Good morning."), ("Danke schön.", "Thank you.")] * 8
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    argv = ["--quick", "--out", str(tmp_path / "out"), "--epochs", "2", "--steps-per-epoch", "1"]
    argv += ["--set", "vocabulary_size=300", "--set", "units=8", "--set", "embedding_dim=8"]
    argv += ["--beam-size", "2"]
    argv += [f"--{split}-tsv={data}" for split in ("train", "dev", "test")]
    make_callbacks = translate.training_callbacks

    def interrupted(run, *args, **kwargs):
        callbacks, path = make_callbacks(run, *args, **kwargs)
        return [*callbacks, Interrupt(1)], path

    translate.training_callbacks = interrupted
    with pytest.raises(KeyboardInterrupt):
        translate.main(argv)
    translate.training_callbacks = make_callbacks
    results = translate.main(argv)
    assert "resuming from the backup" in capsys.readouterr().out
    assert results["epochs_run"] == 2


def test_translate_tokens_per_second_counts_the_tokens_the_pipeline_keeps():
    # The tokens/s of results.json counted the target tokens of every train pair, those the
    # pipeline drops (too long, an empty side) included: 22 here instead of the 9 trained on.
    from keras_seq.pipelines import translation_dataset
    from keras_seq.text import WordTokenizer

    translate = load_recipe("translate")
    pairs = [
        ("a b", "x y"),  # kept: 2 target ids + </s>
        ("a", "x y z x y z x"),  # target too long (<s> + 7 ids > 5)
        ("a b c d e f", "x"),  # source too long (6 ids > 5)
        ("a", "x"),  # kept: 1 + 1
        ("a b", ""),  # empty target
        ("", "y"),  # empty source
        ("b", "z z z"),  # kept: 3 + 1 (<s> + 3 ids = 4 <= 5)
    ]
    source = WordTokenizer.from_corpus([s for s, _ in pairs], min_count=1)
    target = WordTokenizer.from_corpus([t for _, t in pairs], min_count=1)
    config = {"max_length": 5}
    dataset, statistics = translation_dataset(
        pairs, source, target, batch_size=2, max_source_length=5, max_target_length=5
    )
    trained = sum(int((target_out.numpy() > 0).sum()) for _, target_out in dataset)
    assert (statistics.num_kept, trained) == (3, 3 + 2 + 4)
    assert translate.trained_target_tokens(pairs, source, target, config) == trained

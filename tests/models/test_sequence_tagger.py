"""SequenceTagger: training, raw-string tagging, saving, export, learning on Brown."""

import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.datasets import load_brown_pos
from keras_seq.export import export
from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import MaskedAccuracy
from keras_seq.metrics.span_f1 import SpanF1
from keras_seq.models.sequence_tagger import SequenceTagger
from keras_seq.pipelines import tagging_dataset
from keras_seq.text import WordPieceTokenizer, WordTokenizer
from tests.test_case import assert_allclose, run_model_saving_test

IDS = np.array([[4, 5, 6, 7], [8, 9, 0, 0]], "int32")
NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC"]
NER = [
    (["John", "Smith", "lives", "in", "Paris", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
    (["Mary", "visited", "Rome", "."], ["B-PER", "O", "B-LOC", "O"]),
]


@pytest.fixture(scope="module")
def brown():
    return load_brown_pos("train")[:300], load_brown_pos("dev")[:200]


@pytest.fixture(scope="module")
def tagger(brown):
    keras.utils.set_random_seed(0)  # its weights must not depend on the tests run before
    train, _ = brown
    tokenizer = WordTokenizer.from_corpus([words for words, _ in train])
    tags = sorted({tag for _, tags in train for tag in tags})
    model = SequenceTagger(tags, embedding_dim=8, units=8, tokenizer=tokenizer)
    model.build()
    return model


@pytest.mark.parametrize(
    "options",
    [dict(), dict(bidirectional=False, cell="gru", num_layers=2, dropout=0.1)],
    ids=["bilstm", "gru_stack"],
)
def test_builds_trains_one_step_and_saves(options):
    model = SequenceTagger(NER_TAGS, vocabulary_size=12, embedding_dim=4, units=6, **options)
    assert tuple(model(IDS).shape) == (2, 4, len(NER_TAGS) + 1)
    model.compile(
        keras.optimizers.Adam(0.01),
        MaskedSequenceLoss(),
        metrics=[MaskedAccuracy(), SpanF1(NER_TAGS)],
    )
    tags = np.array([[2, 3, 1, 4], [2, 1, 0, 0]], "int32")
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_on_batch(IDS, tags, return_dict=True)
    assert set(logs) >= {"loss", "masked_accuracy", "span_f1"}
    weights = model.trainable_weights
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before, weights, strict=True))
    run_model_saving_test(model, IDS)


def test_padding_is_ignored_and_never_predicted():
    model = SequenceTagger(NER_TAGS, vocabulary_size=12, embedding_dim=4, units=6)
    model.build()
    padded = np.array([[4, 5, 6, 7, 0, 0]], "int32")
    # Bidirectional: the outputs of real tokens do not depend on the padding after them.
    assert_allclose(model(padded)[:, :4], model(padded[:, :4]), atol=1e-6)
    model.output_layer.bias.assign(np.array([100.0, 0, 0, 0, 0], "float32"))
    predicted = model.predict_tag_ids(padded).numpy()
    assert (predicted[0, :4] > 0).all() and (predicted[0, 4:] == 0).all()


def test_tag_returns_aligned_tokens_and_tags(tagger):
    pairs = tagger.tag(["The dog barks.", "", "Qwzx  blorf , too"])
    (tokens, tags), (empty_tokens, empty_tags), (unknown_tokens, unknown_tags) = pairs
    assert tokens == ["The", "dog", "barks", "."]
    assert len(tags) == 4 and set(tags) <= set(tagger.tag_vocabulary)
    assert empty_tokens == [] and empty_tags == []
    assert unknown_tokens == ["Qwzx", "blorf", ",", "too"] and len(unknown_tags) == 4
    # Same tags as the model's arg-max over the tokenizer's ids.
    ids = tagger.tokenizer.tokenize([tokens]).to_tensor()
    expected = [tagger.tag_vocabulary[i - 1] for i in tagger.predict_tag_ids(ids).numpy()[0]]
    assert tags == expected
    assert tagger.tag("The dog barks.") == pairs[:1]


def test_bad_inputs(tagger):
    with pytest.raises(ValueError, match="empty"):
        tagger.tag([])
    with pytest.raises(TypeError, match="strings"):
        tagger.tag([b"bytes"])
    with pytest.raises(ValueError, match="tag_vocabulary"):
        SequenceTagger(["A", "A"], vocabulary_size=5)
    with pytest.raises(ValueError, match="vocabulary_size"):
        SequenceTagger(["A"])
    with pytest.raises(ValueError, match="tokenizer"):
        SequenceTagger(["A"], vocabulary_size=5).tag(["x"])
    with pytest.raises(ValueError, match="shape"):
        tagger(np.ones((3,), "int32"))
    with pytest.raises(TypeError, match="WordTokenizer"):
        SequenceTagger(["A"], tokenizer=WordPieceTokenizer.from_corpus(["a b"], 300))


def test_reloaded_tagger_tags_the_same(tagger, tmp_path):
    path = tmp_path / "tagger.keras"
    tagger.save(path)
    restored = keras.saving.load_model(path)
    texts = ["The dog barks.", "He said it was over."]
    assert restored.tag(texts) == tagger.tag(texts)


def test_learns_brown_tags_quickly(brown):
    """300 Brown sentences, 2 epochs (~5 s): >= 0.80 token accuracy on 200 dev sentences
    (0.86 measured; predicting NOUN everywhere gets 0.33)."""
    train, dev = brown
    keras.utils.set_random_seed(1)
    tokenizer = WordTokenizer.from_corpus([words for words, _ in train], lowercase=True)
    tags = sorted({tag for _, tags in train for tag in tags})
    dataset, _ = tagging_dataset(train, tokenizer, tags, batch_size=32, seed=1)
    dev_dataset, _ = tagging_dataset(dev, tokenizer, tags, batch_size=100, shuffle=False)
    model = SequenceTagger(tags, embedding_dim=32, units=32, tokenizer=tokenizer)
    model.compile(keras.optimizers.Adam(0.03), MaskedSequenceLoss(), metrics=[MaskedAccuracy()])
    started = time.perf_counter()
    model.fit(dataset, epochs=2, verbose=0, shuffle=False)  # the pipeline shuffles
    seconds = time.perf_counter() - started
    accuracy = model.evaluate(dev_dataset, verbose=0, return_dict=True)["masked_accuracy"]
    assert accuracy >= 0.80, (accuracy, seconds)


def test_export_serves_the_eager_tags_through_the_session_loader(tagger, tmp_path):
    version_dir = export(tagger, tmp_path, name="tagger")
    checked = subprocess.run(
        [sys.executable, "-m", "keras_seq.cli", "check-export", str(version_dir)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    texts = ["The dog barks.", "", "He said that it was over, and left."]
    eager = tagger.serving_signatures()["tag"][0](tf.constant(texts))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        assert set(meta.signature_def) - {"__saved_model_init_op"} == {"serving_default", "tag"}
        signature = meta.signature_def["serving_default"]
        fetches = {k: v.name for k, v in signature.outputs.items()}
        served = session.run(fetches, {signature.inputs["text"].name: texts})
    assert served["tokens"].shape == served["tags"].shape == (3, 10)
    assert served["tokens"].tolist() == eager["tokens"].numpy().tolist()
    assert served["tags"].tolist() == eager["tags"].numpy().tolist()
    assert served["tags"][1].tolist() == [b""] * 10  # the empty sentence: padding only


def test_serving_bound_tags_the_first_words(tagger):
    """The exported signature reads at most `max_length` words of a text (the RNNs ran over
    all of any input before): the tags are those of the text cut to its first words, and
    `tokens` shows which words were tagged."""
    words = ("the dog barks at the cat , and the cat runs off .".split()) * 20  # 260 words
    text = " ".join(words)
    bounded = tagger.serving_signatures(max_length=7)["tag"][0]
    served = bounded(tf.constant([text, "The dog barks ."]))
    tokens = [t.decode() for t in served["tokens"][0].numpy()]
    tags = [t.decode() for t in served["tags"][0].numpy()]
    assert tokens == words[:7]
    expected_tokens, expected_tags = tagger.tag(" ".join(words[:7]))[0]
    assert tokens == expected_tokens and tags == expected_tags
    short = [t.decode() for t in served["tokens"][1].numpy()]
    assert short == ["The", "dog", "barks", ".", "", "", ""]  # untouched, padded
    default = tagger.serving_signatures()["tag"][0](tf.constant([text]))
    assert default["tokens"].shape[1] == 256  # the default bound
    unbounded = tagger.serving_signatures(max_length=None)["tag"][0](tf.constant([text]))
    assert unbounded["tokens"].shape[1] == len(words)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="max_length"):
            tagger.serving_signatures(max_length=bad)

"""SequenceClassifier: pooling, training, raw-string classification, saving, export, learning."""

import random
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.datasets import load_spam_assassin
from keras_seq.export import export
from keras_seq.layers import SequencePooling
from keras_seq.metrics.class_f1_score import ClassF1Score
from keras_seq.models.sequence_classifier import SequenceClassifier
from keras_seq.pipelines import classification_dataset
from keras_seq.text import WordTokenizer
from tests.layers.helpers import randomize
from tests.test_case import assert_allclose, run_model_saving_test

IDS = np.array([[4, 5, 6, 7, 8], [9, 4, 0, 0, 0], [5, 6, 7, 0, 0]], "int32")
TEXTS = [
    "Buy cheap pills now, limited offer!",
    "Are we still meeting on Monday?",
    "You have WON a free prize, click here",
    "The patch fixes the build on Linux.",
]


def balanced(split, count, characters=200):
    """``count`` SpamAssassin texts, half ham and half spam, cut to their first characters."""
    rows = load_spam_assassin(split)
    ham = [row for row in rows if row[1] == 0][: count // 2]
    spam = [row for row in rows if row[1] == 1][: count // 2]
    examples = [(text[:characters], label) for text, label in ham + spam]
    random.Random(0).shuffle(examples)
    return examples


@pytest.fixture(scope="module")
def classifier():
    tokenizer = WordTokenizer.from_corpus(TEXTS, lowercase=True)
    model = SequenceClassifier(
        ["ham", "spam"], embedding_dim=8, units=8, hidden_units=[8], tokenizer=tokenizer
    )
    model.build()
    randomize(model, np.random.default_rng(0))
    return model


@pytest.mark.parametrize("bidirectional", [True, False], ids=["bidirectional", "forward"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_pooling_picks_what_sequence_pooling_picks(pooling, bidirectional):
    model = SequenceClassifier(
        ["a", "b", "c"],
        vocabulary_size=12,
        embedding_dim=4,
        units=3,
        pooling=pooling,
        bidirectional=bidirectional,
    )
    model.build()
    randomize(model, np.random.default_rng(1))
    mask = IDS != 0
    outputs = model.stack(model.embedding(IDS), mask=mask).numpy()
    expected = SequencePooling(pooling, bidirectional=bidirectional)(outputs, mask=mask).numpy()
    assert_allclose(model.encode(IDS), expected, atol=1e-6)
    lengths = mask.sum(axis=1)
    for row in range(len(IDS)):  # NumPy reference of the seed's pooling
        valid = outputs[row, : lengths[row]]
        if pooling == "mean":
            reference = valid.mean(axis=0)
        elif pooling == "max":
            reference = valid.max(axis=0)
        elif bidirectional:  # forward half after the last token, backward half after the first
            reference = np.concatenate([valid[-1, :3], valid[0, 3:]])
        else:
            reference = valid[-1]
        assert_allclose(expected[row], reference, atol=1e-6)


@pytest.mark.parametrize(
    "class_names, options",
    [
        (["ham", "spam"], dict()),
        (["a", "b", "c"], dict(cell="gru", num_layers=2, hidden_units=[], dropout=0.1)),
    ],
    ids=["binary", "multiclass"],
)
def test_builds_trains_one_step_and_saves(class_names, options):
    model = SequenceClassifier(class_names, vocabulary_size=12, embedding_dim=4, units=4, **options)
    assert tuple(model(IDS).shape) == (3, len(class_names))
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", ClassF1Score(len(class_names))],
    )
    labels = np.array([0, 1, 1], "int32")
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_on_batch(IDS, labels, return_dict=True)
    assert set(logs) >= {"loss", "accuracy", "class_f1"}
    assert all(
        not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights, strict=True)
    )
    run_model_saving_test(model, IDS)


def test_classify_returns_labels_and_probabilities(classifier, tmp_path):
    texts = TEXTS[:2] + ["", "zzqx unseen wordz"]
    labels, probabilities = classifier.classify(texts)
    assert probabilities.shape == (4, 2)
    assert_allclose(probabilities.sum(axis=1), np.ones(4), atol=1e-6)
    assert labels == [classifier.class_names[i] for i in probabilities.argmax(axis=1)]
    ids = classifier.tokenizer(tf.constant(TEXTS[:2]))
    assert_allclose(probabilities[:2], tf.nn.softmax(classifier(ids)), atol=1e-6)
    # The empty text is classified from padding alone (pooled features are zeros).
    assert_allclose(probabilities[2], tf.nn.softmax(classifier(np.zeros((1, 1), "int32")))[0])
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    restored = keras.saving.load_model(path)
    restored_labels, restored_probabilities = restored.classify(texts)
    assert restored_labels == labels
    assert_allclose(restored_probabilities, probabilities, atol=1e-6)


def test_max_length_keeps_the_first_tokens():
    tokenizer = WordTokenizer.from_corpus(TEXTS, lowercase=True)
    model = SequenceClassifier(["ham", "spam"], units=4, max_length=3, tokenizer=tokenizer)
    model.build()
    _, cut = model.classify(["Buy cheap pills now, limited offer!"])
    _, first_three = model.classify(["Buy cheap pills"])
    assert_allclose(cut, first_three, atol=1e-6)


def test_bad_inputs(classifier):
    with pytest.raises(ValueError, match="empty"):
        classifier.classify([])
    with pytest.raises(TypeError, match="strings"):
        classifier.classify([None])
    with pytest.raises(ValueError, match="class_names"):
        SequenceClassifier(["only"], vocabulary_size=5)
    with pytest.raises(ValueError, match="pooling"):
        SequenceClassifier(["a", "b"], vocabulary_size=5, pooling="sum-of-squares")
    with pytest.raises(ValueError, match="tokenizer"):
        SequenceClassifier(["a", "b"], vocabulary_size=5).classify(["x"])
    # A bare int (or None, a str, a bool size) gets the same message as a size of 0.
    for hidden_units in ([0], 64, None, "64", (True,)):
        with pytest.raises(ValueError, match="`hidden_units` must be positive ints"):
            SequenceClassifier(["a", "b"], vocabulary_size=5, hidden_units=hidden_units)


def test_separates_spam_from_ham():
    """300 balanced SpamAssassin texts (first 200 characters), 2 epochs (~6 s): >= 0.85
    accuracy on 200 balanced dev texts (0.96 measured; chance is 0.5)."""
    train, dev = balanced("train", 300), balanced("dev", 200)
    keras.utils.set_random_seed(1)
    tokenizer = WordTokenizer.from_corpus([t for t, _ in train], min_count=2, lowercase=True)
    dataset, _ = classification_dataset(train, tokenizer, 32, seed=1)
    dev_dataset, _ = classification_dataset(dev, tokenizer, 100, shuffle=False)
    model = SequenceClassifier(
        ["ham", "spam"], embedding_dim=32, units=32, pooling="mean", tokenizer=tokenizer
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", ClassF1Score(2)],
    )
    model.fit(dataset, epochs=2, verbose=0, shuffle=False)  # the pipeline shuffles
    scores = model.evaluate(dev_dataset, verbose=0, return_dict=True)
    assert scores["accuracy"] >= 0.85 and scores["class_f1"] >= 0.85, scores
    labels, _ = model.classify([text for text, _ in dev])
    accuracy = np.mean(
        [label == ["ham", "spam"][y] for label, (_, y) in zip(labels, dev, strict=True)]
    )
    assert_allclose(accuracy, scores["accuracy"], atol=1e-6)


def test_export_serves_the_eager_outputs_through_the_session_loader(classifier, tmp_path):
    version_dir = export(classifier, tmp_path, name="classifier")
    checked = subprocess.run(
        [sys.executable, "-m", "keras_seq.cli", "check-export", str(version_dir)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    texts = TEXTS + [""]
    eager = classifier.serving_signatures()["classify"][0](tf.constant(texts))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        assert set(meta.signature_def) - {"__saved_model_init_op"} == {
            "serving_default",
            "classify",
        }
        signature = meta.signature_def["serving_default"]
        fetches = {k: v.name for k, v in signature.outputs.items()}
        served = session.run(fetches, {signature.inputs["text"].name: texts})
    assert served["label"].tolist() == eager["label"].numpy().tolist()
    assert served["probabilities"].shape == (5, 2)
    assert_allclose(served["probabilities"], eager["probabilities"], atol=1e-6)


def test_serving_bound_reads_the_first_tokens(classifier):
    """The exported signature reads at most `max_length` tokens of a text (the RNN ran over
    all of any input before, for a model built without `max_length`)."""
    words = "buy cheap pills now , limited offer".split() * 100  # 700 tokens
    classify = classifier.serving_signatures(max_length=5)["classify"][0]
    served = classify(tf.constant([" ".join(words), "buy cheap"]))
    _, first_five = classifier.classify([" ".join(words[:5]), "buy cheap"])
    assert_allclose(served["probabilities"], first_five, atol=1e-6)
    _, whole = classifier.classify([" ".join(words)])
    assert np.abs(whole[0] - first_five[0]).max() > 1e-4  # the cut changes the answer
    default = classifier.serving_signatures()["classify"][0](tf.constant([" ".join(words)]))
    _, first_512 = classifier.classify([" ".join(words[:512])])
    assert_allclose(default["probabilities"], first_512, atol=1e-6)
    unbounded = classifier.serving_signatures(max_length=None)["classify"][0]
    assert_allclose(unbounded(tf.constant([" ".join(words)]))["probabilities"], whole, atol=1e-6)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="max_length"):
            classifier.serving_signatures(max_length=bad)


def test_serving_bound_and_model_bound_take_the_smaller():
    tokenizer = WordTokenizer.from_corpus(TEXTS, lowercase=True)
    model = SequenceClassifier(["ham", "spam"], units=4, max_length=3, tokenizer=tokenizer)
    model.build()
    classify = model.serving_signatures(max_length=100)["classify"][0]
    served = classify(tf.constant(["Buy cheap pills now, limited offer!"]))
    _, first_three = model.classify(["Buy cheap pills"])
    assert_allclose(served["probabilities"], first_three, atol=1e-6)

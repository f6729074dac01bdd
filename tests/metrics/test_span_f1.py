"""SpanF1 against hand-computed conlleval counts and against seqeval (conlleval mode)."""

import keras
import numpy as np
import pytest

from keras_seq.metrics.span_f1 import SpanF1
from tests.test_case import assert_allclose

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
IOBES = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


def ids(tags, vocabulary, length=None):
    """Tag strings → ids (1 + index), right-padded with 0 to ``length``."""
    row = [vocabulary.index(tag) + 1 for tag in tags]
    return row + [0] * ((length or len(row)) - len(row))


def score(vocabulary, gold, predicted, scheme="bio"):
    length = max(len(g) for g in gold)
    metric = SpanF1(vocabulary, scheme=scheme)
    metric.update_state(
        np.array([ids(g, vocabulary, length) for g in gold]),
        np.array([ids(p, vocabulary, length) for p in predicted]),
    )
    return metric


def test_hand_computed_bio_example():
    # gold chunks: PER[0-1], LOC[3], PER[5]; predicted: PER[0-1], LOC[3-4]; correct: PER[0-1].
    metric = score(
        BIO,
        [["B-PER", "I-PER", "O", "B-LOC", "O", "B-PER"]],
        [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]],
    )
    report = metric.report()
    assert_allclose([report["precision"], report["recall"], report["f1"]], [1 / 2, 1 / 3, 0.4])
    assert_allclose(float(metric.result()), 0.4)
    assert report["per_type"]["PER"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert report["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_conlleval_quirks():
    # A stray I- after O opens a chunk (so O I-PER I-PER == O B-PER I-PER), a type change
    # inside a chunk splits it, B- after I- of the same type starts a new chunk.
    metric = score(
        BIO,
        [["O", "I-PER", "I-PER", "O"], ["B-PER", "I-LOC"], ["B-PER", "I-PER", "B-PER"]],
        [["O", "B-PER", "I-PER", "O"], ["B-PER", "B-LOC"], ["B-PER", "I-PER", "I-PER"]],
    )
    # gold: PER[1-2] | PER[0], LOC[1] | PER[0-1], PER[2]  (5 chunks)
    # pred: PER[1-2] | PER[0], LOC[1] | PER[0-2]          (4 chunks), 3 correct
    report = metric.report()
    assert_allclose([report["precision"], report["recall"]], [3 / 4, 3 / 5])
    assert_allclose(float(metric.result()), 2 * 3 / 9)


def test_iobes_example_and_padding():
    # An I- at the sentence end closes its chunk (LOC[2-3] both ways); the padding after the
    # short sentence is ignored whatever is predicted there.
    metric = SpanF1(IOBES, scheme="iobes")
    gold = np.array(
        [ids(["S-PER", "O", "B-LOC", "E-LOC"], IOBES), ids(["B-PER", "E-PER"], IOBES, 4)]
    )
    predicted = np.array(
        [ids(["S-PER", "O", "B-LOC", "I-LOC"], IOBES), ids(["B-PER", "S-PER", "S-LOC"], IOBES, 4)]
    )
    metric.update_state(gold, predicted)
    # gold: PER[0], LOC[2-3] | PER[0-1]; pred: PER[0], LOC[2-3] | PER[0], PER[1] → 2 correct.
    report = metric.report()
    assert_allclose([report["precision"], report["recall"]], [2 / 4, 2 / 3])


def test_logits_give_the_arg_max_over_real_tags_and_states_accumulate():
    gold = np.array([ids(["B-PER", "I-PER", "O"], BIO)])
    logits = np.full((1, 3, len(BIO) + 1), -5.0, "float32")
    logits[0, :, 0] = 10.0  # padding is never predicted
    for t, tag in enumerate(["B-PER", "I-PER", "O"]):
        logits[0, t, BIO.index(tag) + 1] = 1.0
    metric = SpanF1(BIO)
    metric.update_state(gold, logits)
    assert float(metric.result()) == 1.0
    metric.update_state(gold, np.array([ids(["O", "O", "O"], BIO)]))
    assert_allclose(float(metric.result()), 2 * 1 / (1 + 2))  # 1 correct, 1 predicted, 2 gold
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_matches_seqeval_on_random_sequences():
    seqeval = pytest.importorskip("seqeval.metrics")
    rng = np.random.default_rng(0)
    for vocabulary, scheme in ((BIO, "bio"), (IOBES, "iobes")):
        metric = SpanF1(vocabulary, scheme=scheme)
        gold_tags, predicted_tags = [], []
        for _ in range(3):  # batches of different lengths
            length = int(rng.integers(3, 12))
            lengths = rng.integers(1, length + 1, size=8)
            gold_batch, predicted_batch = [], []
            for n in lengths:
                gold_tags.append([vocabulary[i] for i in rng.integers(0, len(vocabulary), n)])
                predicted_tags.append(list(gold_tags[-1]))
                for t in rng.choice(n, size=int(rng.integers(0, n + 1)), replace=False):
                    predicted_tags[-1][t] = vocabulary[rng.integers(0, len(vocabulary))]
                gold_batch.append(ids(gold_tags[-1], vocabulary, length))
                predicted_batch.append(ids(predicted_tags[-1], vocabulary, length))
            metric.update_state(np.array(gold_batch), np.array(predicted_batch))
        report = metric.report()
        expected = [
            seqeval.precision_score(gold_tags, predicted_tags),
            seqeval.recall_score(gold_tags, predicted_tags),
            seqeval.f1_score(gold_tags, predicted_tags),
        ]
        assert_allclose([report["precision"], report["recall"], report["f1"]], expected)
        per_type = seqeval.classification_report(gold_tags, predicted_tags, output_dict=True)
        for name in ("PER", "LOC"):
            assert_allclose(report["per_type"][name]["f1"], per_type[name]["f1-score"])
            assert report["per_type"][name]["support"] == per_type[name]["support"]


def test_bad_arguments_and_serialization():
    with pytest.raises(ValueError, match="BIO tag"):
        SpanF1(["O", "E-PER"])
    with pytest.raises(ValueError, match="scheme"):
        SpanF1(BIO, scheme="bilou")
    with pytest.raises(ValueError, match="sample_weight"):
        SpanF1(BIO).update_state([[1]], [[1]], sample_weight=[1.0])
    with pytest.raises(ValueError, match="shapes"):
        SpanF1(BIO).update_state([1, 2], [1, 2])
    metric = SpanF1(IOBES, scheme="iobes")
    revived = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert revived.get_config() == metric.get_config()


@pytest.mark.parametrize(
    "y_true, y_pred, error, match",
    [
        (
            [[2, 7, 1]],
            [[2, 3, 1]],
            "InvalidArgumentError",
            r"`y_true` must hold tag ids in \[0, 4\)",
        ),
        (
            [[2, 3, 1]],
            [[2, -1, 1]],
            "InvalidArgumentError",
            r"`y_pred` must hold tag ids in \[0, 4\)",
        ),
        ([[2, 3, 1]], np.zeros((1, 3, 6), "float32"), "ValueError", "4 scores per token"),
        ([[2, 3, 1]], [[2, 3]], "ValueError", r"shapes \(1, 3\) and \(1, 2\)"),
    ],
)
def test_bad_ids_and_shapes_are_named(y_true, y_pred, error, match):
    import tensorflow as tf

    errors = {"ValueError": ValueError, "InvalidArgumentError": tf.errors.InvalidArgumentError}
    metric = SpanF1(["O", "B-PER", "I-PER"])
    with pytest.raises(errors[error], match=match):
        metric.update_state(y_true, y_pred)
    assert float(metric.gold.numpy().sum()) == 0.0

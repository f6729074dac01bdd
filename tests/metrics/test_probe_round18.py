"""Round 18 of the metrics audit.

* `ClassF1Score(class_names=...)` took names that are not str (the NumPy ints of
  ``np.unique(labels)``, None): `report()` was keyed by them, so ``json.dumps(report)`` failed
  and the keys differed from the "0", "1", ... of a metric without names. Now a TypeError.
* `SpanF1` read targets [B, T, 1] as [B, T] but refused predicted int ids of that shape with
  a message about scores (a width of 1 can never be scores: padding and a tag are 2).
* `SpanF1` against a line-by-line port of conlleval's counting loop (its ``inCorrect`` state
  machine, not a comparison of span sets) on random IOBES rows with padding.
"""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.metrics import ClassF1Score, SpanF1

IOBES = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]


@pytest.mark.parametrize(
    "names, bad",
    [
        ([0, 1, 2], "0 of type int"),
        (np.unique([2, 0, 1]), "np.int64(0) of type int64"),
        (["a", None, "c"], "None of type NoneType"),
    ],
)
def test_class_names_that_are_not_str_are_refused(names, bad):
    with pytest.raises(TypeError, match=re.escape(f"`class_names` must hold str, got {bad}.")):
        ClassF1Score(3, class_names=names)


def test_numpy_str_class_names_give_a_json_report_with_plain_str_keys():
    metric = ClassF1Score(3, class_names=np.array(["neg", "neutral", "pos"]))
    metric.update_state([0, 1, 2, 2], [0, 2, 2, 1])
    report = metric.report()
    assert [type(name) for name in report["per_class"]] == [str, str, str]
    assert json.loads(json.dumps(report))["per_class"]["pos"]["f1"] == pytest.approx(0.5)
    assert metric.get_config()["class_names"] == ["neg", "neutral", "pos"]


def _ids(tags, vocabulary, length):
    row = [vocabulary.index(tag) + 1 for tag in tags]
    return row + [0] * (length - len(row))


def test_span_f1_reads_predicted_ids_with_a_trailing_one():
    vocabulary = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    gold = np.array([_ids(["B-PER", "I-PER", "O", "B-LOC", "O", "B-PER"], vocabulary, 6)])
    predicted = np.array([_ids(["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"], vocabulary, 6)])
    # gold: PER[0-1], LOC[3], PER[5]; predicted: PER[0-1], LOC[3-4]; 1 correct: F1 2/5.
    for y_true in (gold, gold[..., None]):
        metric = SpanF1(vocabulary)
        metric.update_state(y_true, predicted[..., None])
        assert float(metric.result()) == pytest.approx(0.4)
        traced = SpanF1(vocabulary)
        spec = tf.TensorSpec([None, None, 1], tf.int64)
        tf.function(traced.update_state, input_signature=[spec, spec])(
            gold[..., None], predicted[..., None]
        )
        assert float(traced.result()) == pytest.approx(0.4)
    # A float [B, T, 1] is no ids: still refused as scores of the wrong width.
    with pytest.raises(ValueError, match="must hold 6 scores per token"):
        SpanF1(vocabulary).update_state(gold, predicted[..., None].astype("float32"))


def _split(tag):
    return ("O", "") if tag == "O" else tuple(tag.split("-", 1))


def _end_of_chunk(previous, tag, previous_type, kind):
    # conlleval.pl's endOfChunk, with the E-/S- cases of the IOBES ports.
    return (
        previous in ("E", "S")
        or (previous in ("B", "I") and tag in ("B", "S", "O"))
        or (previous != "O" and previous_type != kind)
    )


def _start_of_chunk(previous, tag, previous_type, kind):
    return (
        tag in ("B", "S")
        or (previous in ("E", "S", "O") and tag in ("E", "I"))
        or (tag != "O" and previous_type != kind)
    )


def _conlleval_counts(sentences):
    """(correct, guessed, gold) chunk counts by conlleval's loop over (gold, guess) tags, a
    sentence boundary read as an "O" line, as conlleval reads a blank line."""
    correct_chunks = found_guessed = found_correct = 0
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    lines = [pair for sentence in sentences for pair in [*sentence, ("O", "O")]]
    for gold_tag, guess_tag in lines:
        correct, correct_type = _split(gold_tag)
        guessed, guessed_type = _split(guess_tag)
        end_correct = _end_of_chunk(last_correct, correct, last_correct_type, correct_type)
        end_guessed = _end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        start_correct = _start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        start_guessed = _start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if in_correct:
            if end_correct and end_guessed and last_guessed_type == last_correct_type:
                in_correct = False
                correct_chunks += 1
            elif end_correct != end_guessed or guessed_type != correct_type:
                in_correct = False
        if start_correct and start_guessed and guessed_type == correct_type:
            in_correct = True
        found_correct += start_correct
        found_guessed += start_guessed
        last_correct, last_correct_type = correct, correct_type
        last_guessed, last_guessed_type = guessed, guessed_type
    return correct_chunks, found_guessed, found_correct


def test_span_f1_equals_conlleval_counting_loop_on_random_iobes_rows():
    rng = np.random.default_rng(18)
    metric = SpanF1(IOBES, scheme="iobes")
    sentences = []
    for _ in range(4):  # batches of different widths, rows padded to them
        width = int(rng.integers(4, 10))
        gold_rows, guess_rows = [], []
        for length in rng.integers(1, width + 1, size=6):
            gold = [IOBES[i] for i in rng.integers(0, len(IOBES), length)]
            guess = list(gold)
            for t in rng.choice(length, size=int(rng.integers(0, length + 1)), replace=False):
                guess[t] = IOBES[rng.integers(0, len(IOBES))]
            sentences.append(list(zip(gold, guess, strict=True)))
            gold_rows.append(_ids(gold, IOBES, width))
            # Whatever is predicted at padding is not read.
            guess_rows.append(
                _ids(guess, IOBES, length) + list(rng.integers(1, 10, width - length))
            )
        metric.update_state(np.array(gold_rows), np.array(guess_rows))
    correct, guessed, gold = _conlleval_counts(sentences)
    assert (guessed, gold) == (float(np.sum(metric.predicted)), float(np.sum(metric.gold)))
    assert correct == float(np.sum(metric.true_positives))
    report = metric.report()
    assert report["precision"] == pytest.approx(correct / guessed, abs=1e-12)
    assert report["recall"] == pytest.approx(correct / gold, abs=1e-12)
    assert float(metric.result()) == pytest.approx(2 * correct / (guessed + gold), rel=1e-6)

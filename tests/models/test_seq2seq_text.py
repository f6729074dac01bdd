"""Seq2Seq with real tensorflow-text tokenizers: strings in, strings out, export, serving."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.export import export
from keras_seq.models import Seq2Seq
from keras_seq.text import WordPieceTokenizer
from tests.test_case import assert_allclose

PAIRS = [
    ("Er hat es tun müssen.", "He had to do it."),
    ("Das ist nicht meine Schuld.", "It's not my fault."),
    ("Ich habe keine Zeit.", "I have no time."),
    ("Wir müssen gehen.", "We have to go."),
    ("Er ist zu Hause.", "He is at home."),
    ("Das Wetter ist schön.", "The weather is nice."),
]


@pytest.fixture(scope="module")
def translator():
    keras.utils.set_random_seed(0)
    source = WordPieceTokenizer.from_corpus([s for s, _ in PAIRS], 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus([t for _, t in PAIRS], 300, name="target_tokenizer")
    model = Seq2Seq(embedding_dim=8, units=16, source_tokenizer=source, target_tokenizer=target)
    model.build()
    return model


def test_translate_returns_strings_and_n_best(translator):
    texts = [s for s, _ in PAIRS[:3]]
    best = translator.translate(texts, beam_size=3, max_length=8)
    assert len(best) == 3 and all(isinstance(t, str) for t in best)
    n_best = translator.translate(texts, beam_size=3, n_best=3, max_length=8)
    assert [len(row) for row in n_best] == [3, 3, 3]
    assert [row[0] for row in n_best] != [] and best == [row[0] for row in n_best]
    greedy = translator.translate(texts, beam_size=1, max_length=8)
    assert len(greedy) == 3
    assert translator.translate(texts, beam_size=1, n_best=1, max_length=8) == [[t] for t in greedy]
    # Greedy decoding has one alternative: n_best > beam_size is refused for beam_size 1 too.
    for beam_size in (1, 2):
        with pytest.raises(ValueError, match=f"`n_best` must be in \\[1, beam_size={beam_size}\\]"):
            translator.translate(texts, beam_size=beam_size, n_best=3)


def test_bad_and_edge_inputs(translator):
    """Empty input → empty output; unseen words and over-long inputs still translate."""
    long_source = " ".join(["Haus"] * 300) + "."
    texts = ["", "   ", "Qwxzy Blörk Ξενα 😀.", long_source, "Er hat es tun müssen."]
    out = translator.translate(texts, beam_size=2, max_length=6, max_source_length=50)
    assert out[0] == "" and out[1] == ""
    assert all(isinstance(t, str) for t in out)
    assert translator.translate(["", ""], beam_size=2, max_length=6) == ["", ""]
    with pytest.raises(ValueError, match="empty"):
        translator.translate([])
    with pytest.raises(TypeError, match="strings"):
        translator.translate([3])
    # A source cut to <= 0 tokens used to translate to "" (0) or lose its last token (-1).
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="`max_source_length` must be None or an int >= 1"):
            translator.translate(["Er hat es tun müssen."], beam_size=1, max_source_length=bad)
        with pytest.raises(ValueError, match="`max_source_length`"):
            translator.source_ids_from_text(tf.constant(["Er hat es"]), bad)
        with pytest.raises(ValueError, match="`max_source_length`"):
            translator.serving_signatures(max_source_length=bad)


def test_serving_signatures_bound_the_source_length(translator):
    """The exported translations keep the first `max_source_length` source tokens."""
    long_source = "Er hat es tun müssen, " * 40 + "und Das Wetter ist schön."
    signatures = translator.serving_signatures(max_length=6, max_source_length=5)
    greedy, _ = signatures["translate_greedy"]
    served = greedy(tf.constant([long_source, "Wir müssen gehen."]))["translation"].numpy()
    expected = translator.translate(
        [long_source, "Wir müssen gehen."], beam_size=1, max_length=6, max_source_length=5
    )
    assert [t.decode() for t in served] == expected
    # The bound matters: the whole source gives another translation.
    assert translator.translate([long_source], beam_size=1, max_length=6) != expected[:1]


def test_score_is_the_teacher_forced_log_probability(translator):
    sources, targets = [s for s, _ in PAIRS[:2]], [t for _, t in PAIRS[:2]]
    scores = translator.score(sources, targets)
    source_ids = translator.source_ids_from_text(tf.constant(sources))
    target = translator.target_tokenizer.tokenize(tf.constant(targets))
    for row in range(2):
        ids = target[row].numpy()
        logits = translator((source_ids[row : row + 1], np.concatenate([[1], ids])[None]))
        log_probs = tf.nn.log_softmax(translator.forbid_special_tokens(logits))[0].numpy()
        expected = sum(log_probs[t, token] for t, token in enumerate([*ids, 2]))
        assert_allclose(scores[row], expected, atol=1e-4)
    with pytest.raises(ValueError, match="same length"):
        translator.score(sources, targets[:1])
    # A single string is one pair, as in `translate` (it was scored character by character).
    assert_allclose(translator.score(sources[0], targets[0]), scores[:1], atol=1e-4)
    with pytest.raises(ValueError, match="`sources` is empty"):
        translator.score([], [])
    with pytest.raises(TypeError, match="`targets` must hold strings"):
        translator.score(sources[:1], [None])


def test_export_serves_the_same_translations_through_the_session_loader(translator, tmp_path):
    """Eager → export → TF1 session loader (TF Serving's path) → same strings and scores."""
    version_dir = export(translator, tmp_path, name="translator")
    checked = subprocess.run(
        [sys.executable, "-m", "keras_seq.cli", "check-export", str(version_dir)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    sources = [s for s, _ in PAIRS[:3]] + [""]
    eager = translator.serving_signatures()["serving_default"][0](tf.constant(sources))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        signature = meta.signature_def["serving_default"]
        fetches = {k: v.name for k, v in signature.outputs.items()}
        served = session.run(fetches, {signature.inputs["source"].name: sources})
    assert [s.decode() for s in served["translation"]] == [
        s.decode() for s in eager["translation"].numpy()
    ]
    assert_allclose(served["score"], eager["score"], atol=1e-5)
    assert set(meta.signature_def) - {"__saved_model_init_op"} == {
        "serving_default",
        "translate_nbest",
        "translate_greedy",
        "score",
    }


def test_translate_cli_in_a_fresh_process(translator, tmp_path):
    """`keras-seq translate` loads the saved model (tokenizers included) in a new process and
    prints what `translate` gives, one line per input, n-best as `index ||| hypothesis`."""
    path = tmp_path / "translator.keras"
    translator.save(path)
    lines = ["Er hat es tun müssen.", "", "Wir müssen gehen."]
    expected = translator.translate(lines, beam_size=2, n_best=2, max_length=8)
    run = subprocess.run(
        [sys.executable, "-m", "keras_seq.cli", "translate", "--model", str(path)]
        + ["--beam_size", "2", "--n_best", "2", "--max_length", "8", "--batch_size", "2"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = run.stdout.splitlines()
    assert printed == [f"{i} ||| {h}" for i, row in enumerate(expected) for h in row]

"""Non-default model configurations end to end (round 4 of the probes): mixed_bfloat16
exports record and check what their graphs serve; `length_penalty` and served model names
are checked where they are given."""

import io
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq import cli
from keras_seq.export import export, read_warmup_requests
from keras_seq.export.standalone_checker import (
    WARMUP_FILE,
    check_version,
    computes_in_low_precision,
    read_meta_graph,
)
from keras_seq.layers._fused_recurrence import _onednn_matmuls
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from keras_seq.serving import ModelServer
from keras_seq.text import WordPieceTokenizer
from tests.layers.helpers import randomize
from tests.test_case import assert_allclose, dtype_policy

PAIRS = [
    ("Er hat es tun müssen.", "He had to do it."),
    ("Das ist nicht meine Schuld.", "It's not my fault."),
    ("Wir müssen gehen.", "We have to go."),
]


@pytest.fixture(scope="module")
def tokenizers():
    source = WordPieceTokenizer.from_corpus([s for s, _ in PAIRS], 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus([t for _, t in PAIRS], 300, name="target_tokenizer")
    return source, target


def recorded(version_dir, signature_name):
    """The request and expected outputs of a version's warm-up record for a signature."""
    for log in read_warmup_requests(f"{version_dir}/{WARMUP_FILE}"):
        if log.predict_log.request.model_spec.signature_name == signature_name:
            inputs = {k: tf.make_ndarray(v) for k, v in log.predict_log.request.inputs.items()}
            outputs = {k: tf.make_ndarray(v) for k, v in log.predict_log.response.outputs.items()}
            return inputs, outputs
    raise AssertionError(f"no record for {signature_name}")


def shift_recorded(version_dir, signature_name, output, delta):
    """Adds ``delta`` to a recorded output (a served result that far from the model's)."""
    path = f"{version_dir}/{WARMUP_FILE}"
    logs = read_warmup_requests(path)
    for log in logs:
        if log.predict_log.request.model_spec.signature_name == signature_name:
            expected = log.predict_log.response.outputs[output]
            shifted = tf.make_ndarray(expected) + np.float32(delta)
            expected.CopyFrom(tf.make_tensor_proto(shifted))
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


def bfloat16_classifier(tokenizer):
    with dtype_policy("mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        model = SequenceClassifier(
            ["a", "b", "c"],
            tokenizer=tokenizer,
            embedding_dim=4,
            units=6,
            pooling="max",
            num_layers=2,
            hidden_units=[5, 3],
        )
        model.build()
        randomize(model, np.random.default_rng(0), scale=1.0)
    return model


@pytest.fixture(scope="module")
def bfloat16_export(tokenizers, tmp_path_factory):
    model = bfloat16_classifier(tokenizers[1])
    return model, export(model, tmp_path_factory.mktemp("bf16"), name="classifier")


def _onednn_bfloat16():
    """Whether oneDNN runs this process's bfloat16 ops: oneDNN on (`_onednn_matmuls`) and,
    as TensorFlow asks of it, a CPU with AVX-512 F or AVX-NE-CONVERT (Linux's flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return _onednn_matmuls() and ("avx512f" in flags or "avx_ne_convert" in flags)


def test_a_mixed_bfloat16_export_records_what_its_graph_computes(bfloat16_export):
    """The warm-up records hold the outputs of the traced signature (what `classify`
    computes), not of an eager run: under mixed_bfloat16 oneDNN rounds the two differently
    (4e-3 apart here), so the checker failed every correct bfloat16 export."""
    model, version_dir = bfloat16_export
    inputs, outputs = recorded(version_dir, "classify")
    texts = [t.decode("utf-8") for t in inputs["text"]]
    labels, probabilities = model.classify(texts)
    assert_allclose(outputs["probabilities"], probabilities, atol=1e-6, rtol=0)
    assert [label.decode() for label in outputs["label"]] == labels
    # Where oneDNN runs the bfloat16 ops an eager run of the same signature is further away
    # than bfloat16 noise would allow the check at float32 tolerances: the reason for the
    # fix. (Elsewhere the two runs round alike: seen with Eigen, and with oneDNN on AVX2.)
    if _onednn_bfloat16():
        eager = model.serving_signatures()["classify"][0](tf.constant(texts))["probabilities"]
        assert np.abs(eager.numpy() - probabilities).max() > 1e-4
    assert check_version(version_dir) == ([], 2)


def test_the_checker_allows_bfloat16_rounding_in_a_low_precision_graph(bfloat16_export, tmp_path):
    """A bfloat16 graph is compared at rtol = atol = 1e-2 by default (a session and a
    tf.function fuse its ops differently); explicit tolerances still apply. (A float32 graph
    keeps 1e-5 / 1e-6: tests/export/test_cli_probe_fixes.py.)"""
    _, bf16_dir = bfloat16_export
    assert computes_in_low_precision(read_meta_graph(bf16_dir))
    float_graph = tf.function(lambda x: {"y": x * 2.0}).get_concrete_function(
        tf.TensorSpec([None], tf.float32)
    )
    meta_graph = tf.compat.v1.MetaGraphDef()
    meta_graph.graph_def.CopyFrom(float_graph.graph.as_graph_def())
    assert not computes_in_low_precision(meta_graph)

    copy = tmp_path / "bf16_copy"
    tf.io.gfile.makedirs(str(copy))
    for directory, _, files in tf.io.gfile.walk(bf16_dir):
        target = copy / directory[len(str(bf16_dir)) :].lstrip("/")
        tf.io.gfile.makedirs(str(target))
        for name in files:
            tf.io.gfile.copy(f"{directory}/{name}", str(target / name))
    for key in ("serving_default", "classify"):
        shift_recorded(copy, key, "probabilities", 3e-3)
    assert check_version(str(copy)) == ([], 2)
    problems, _ = check_version(str(copy), rtol=1e-5, atol=1e-6)
    assert len(problems) == 2 and "differs from the recorded outputs" in problems[0]
    assert "max abs diff 0.003" in problems[0]


@pytest.mark.slow
def test_mixed_bfloat16_exports_of_every_text_model_pass_the_check(tokenizers, tmp_path):
    """A bfloat16 LM (greedy strings) and a Bahdanau GRU Seq2Seq with tied embeddings
    (score: a session gave -239.737 where the tf.function gives -239.816) export, and the
    check passes; the recorded generations are what `generate` returns."""
    source, target = tokenizers
    with dtype_policy("mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        lm = RNNLanguageModel(
            tokenizer=target, embedding_dim=4, units=6, cell="gru", num_layers=2, tie_weights=True
        )
        translator = Seq2Seq(
            source_tokenizer=source,
            target_tokenizer=target,
            embedding_dim=4,
            units=8,
            cell="gru",
            attention="additive",
            attention_style="bahdanau",
            tie_embeddings=True,
        )
        for model in (lm, translator):
            model.build()
            randomize(model, np.random.default_rng(0), scale=1.0)
    lm_dir = export(lm, tmp_path, name="lm")
    inputs, outputs = recorded(lm_dir, "generate")
    prompts = [p.decode("utf-8") for p in inputs["prompt"]]
    assert [t.decode("utf-8") for t in outputs["text"]] == lm.generate(prompts, max_length=50)
    assert check_version(lm_dir)[0] == []
    assert check_version(export(translator, tmp_path, name="translator"))[0] == []


def test_length_penalty_must_be_a_number_at_least_zero(tokenizers, tmp_path, monkeypatch):
    """`translate` names `length_penalty` (the error named BeamSearch's `alpha`, and a
    string was taken); `keras-seq translate` refuses it when parsing its arguments, before
    loading the model."""
    model = Seq2Seq(
        source_tokenizer=tokenizers[0], target_tokenizer=tokenizers[1], embedding_dim=4, units=4
    )
    for bad in (-1, float("nan"), float("inf"), "0.6", True):
        with pytest.raises(ValueError, match="`length_penalty` must be None or a finite number"):
            model.translate("Wir müssen gehen.", beam_size=2, length_penalty=bad)
    with pytest.raises(ValueError, match="`length_penalty`"):
        model.serving_signatures(length_penalty=-0.5)
    unnormalized = model.translate("Wir", beam_size=2, length_penalty=0, max_length=3)
    assert model.translate("Wir", beam_size=2, length_penalty=None, max_length=3) == unnormalized
    path = tmp_path / "translator.keras"
    model.save(path)
    monkeypatch.setattr("sys.stdin", io.StringIO("Wir müssen gehen.\n"))
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", str(path), "--length_penalty", "-1"])
    assert info.value.code == 2  # argparse's usage error, which names the argument


@pytest.mark.parametrize("name", ["team/classifier", "classifier:v2"])
def test_a_model_name_no_rest_path_reaches_is_refused(name, tmp_path):
    """/v1/models/<name>[:predict] cannot carry '/' or ':': the server loaded such a model
    and answered every request for it with 'Malformed request' or 404."""
    with pytest.raises(ValueError, match="holds '/' or ':'"):
        ModelServer.for_base_path(name, str(tmp_path))
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--model_name", name, "--model_base_path", str(tmp_path)])
    assert info.value.code.startswith("serve: model server config: ")
    assert "\n" not in info.value.code


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda flag: RNNLanguageModel(20, tie_weights=flag), "tie_weights"),
        (
            lambda flag: SequenceClassifier(["a", "b"], vocabulary_size=20, bidirectional=flag),
            "bidirectional",
        ),
        (
            lambda flag: SequenceTagger(["A"], vocabulary_size=20, bidirectional=flag),
            "bidirectional",
        ),
        (lambda flag: Seq2Seq(20, 20, tie_embeddings=flag), "tie_embeddings"),
        (lambda flag: Seq2Seq(20, 20, bidirectional_encoder=flag), "bidirectional_encoder"),
        (lambda flag: Seq2Seq(20, 20, residual=flag), "residual"),
    ],
)
def test_boolean_options_refuse_other_types(build, name):
    # "no" read as true (a non-empty string), 0.0 as false: a silent misconfiguration.
    for flag in ("no", 0.0, None):
        with pytest.raises(TypeError, match=f"`{name}` must be a bool"):
            build(flag)
    assert getattr(build(np.bool_(True)), name) is True


def test_text_methods_take_lone_surrogates_as_replacement_characters(tokenizers):
    """A str with a lone surrogate (from JSON) has no UTF-8 form: `tf.constant` refused it
    with an error naming neither the argument nor the cause; it now reads as U+FFFD, as the
    tokenizers read it."""
    source, target = tokenizers
    model = Seq2Seq(embedding_dim=8, units=8, source_tokenizer=source, target_tokenizer=target)
    model.build()
    randomize(model, np.random.default_rng(0))
    assert model.translate(["Wir \ud800gehen."]) == model.translate(["Wir \ufffdgehen."])
    scores = model.score(["Wir \ud800gehen."], ["We \udfffgo."])
    assert_allclose(scores, model.score(["Wir \ufffdgehen."], ["We \ufffdgo."]), atol=1e-6)
    classifier = SequenceClassifier(["a", "b"], units=4, tokenizer=source)
    classifier.build()
    _, surrogate = classifier.classify(["Wir \ud800gehen."])
    _, replaced = classifier.classify(["Wir \ufffdgehen."])
    assert_allclose(surrogate, replaced, atol=1e-6)
    lm = RNNLanguageModel(units=4, embedding_dim=4, tokenizer=target)
    lm.build()
    assert lm.generate(["We \ud800"], max_length=3) == lm.generate(["We \ufffd"], max_length=3)


def test_an_empty_source_is_served_with_the_numbers_of_the_empty_translation(tokenizers):
    """An empty source is translated to "" by rule; its score and log-probability were those
    of a hypothesis decoded from padding, which the returned string is not."""
    source, target = tokenizers
    model = Seq2Seq(embedding_dim=8, units=8, source_tokenizer=source, target_tokenizer=target)
    model.build()
    randomize(model, np.random.default_rng(1))
    signatures = model.serving_signatures(beam_size=3, n_best=2, max_length=7)
    batch = tf.constant(["", "Wir gehen.", "   "])
    best = signatures["serving_default"][0](batch)
    alone = signatures["serving_default"][0](tf.constant(["Wir gehen."]))
    assert best["translation"].numpy().tolist() == [b"", alone["translation"][0].numpy(), b""]
    for name in ("score", "log_probability"):
        values = best[name].numpy()
        assert values[0] == 0.0 and values[2] == 0.0
        assert_allclose(values[1], alone[name][0], atol=1e-5)
        assert values[1] < 0.0
    nbest = signatures["translate_nbest"][0](batch)
    assert nbest["translations"].numpy()[0].tolist() == [b"", b""]
    np.testing.assert_array_equal(nbest["scores"].numpy()[[0, 2]], 0.0)
    greedy = signatures["translate_greedy"][0](batch)
    assert greedy["log_probability"].numpy()[0] == 0.0
    _, result = model.translate_text(batch, model._strategy(3, 0.6, 2), 7)
    np.testing.assert_array_equal(result.lengths.numpy()[0], 0)
    np.testing.assert_array_equal(result.ids.numpy()[0], 0)
    assert result.lengths.numpy()[1, 0] > 0
    # `score` is the model's own probability, empty source or not (docs/models.md): the
    # padded source's, as for any source, and the score signature agrees with the method.
    scored = signatures["score"][0](tf.constant(["", "Wir gehen."]), tf.constant(["", "We go."]))
    method = model.score(["", "Wir gehen."], ["", "We go."])
    assert_allclose(scored["log_probability"].numpy(), method, atol=1e-5)
    assert np.all(method < 0.0)


def test_max_length_beyond_int32_is_a_clear_error(tokenizers):
    # Lengths are int32 in the graph: 10**12 failed deep in the search ("None values not
    # supported") rather than naming the argument.
    source, target = tokenizers
    model = Seq2Seq(embedding_dim=4, units=4, source_tokenizer=source, target_tokenizer=target)
    for call in (
        lambda: model.translate(["Wir gehen."], beam_size=2, max_length=10**12),
        lambda: model.serving_signatures(max_length=2**31),
        lambda: model.score(["Wir gehen."], ["We go."], max_length=2**31),
    ):
        with pytest.raises(ValueError, match=r"`max_length` must be .*\[1, 2\*\*31 - 1\]"):
            call()
    assert isinstance(model.translate(["Wir gehen."], beam_size=2, max_length=5)[0], str)

"""Regression tests of the models: bounded and consistent scoring, empty and mismatched
batches in the signatures, text methods of unbuilt models, argument checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.export import export
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from keras_seq.text import WordPieceTokenizer, WordTokenizer
from tests.layers.helpers import randomize
from tests.test_case import assert_allclose, dtype_policy

PAIRS = [
    ("Er hat es tun müssen.", "He had to do it."),
    ("Das ist nicht meine Schuld.", "It's not my fault."),
    ("Wir müssen gehen.", "We have to go."),
]
LONG_SOURCE = "Er hat es tun müssen, " * 15 + "und das ist nicht meine Schuld."


@pytest.fixture(scope="module")
def tokenizers():
    source = WordPieceTokenizer.from_corpus([s for s, _ in PAIRS], 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus([t for _, t in PAIRS], 300, name="target_tokenizer")
    return source, target


@pytest.fixture(scope="module")
def translator(tokenizers):
    keras.utils.set_random_seed(0)
    model = Seq2Seq(
        embedding_dim=4, units=8, source_tokenizer=tokenizers[0], target_tokenizer=tokenizers[1]
    )
    model.build()
    randomize(model, np.random.default_rng(0), scale=1.0)
    return model


def teacher_forced(model, source, target, max_source_length, max_length):
    """log p(target | source) with the first tokens of each, computed from the ids."""
    source_ids = model.source_tokenizer.tokenize(tf.constant([source])).numpy()[0]
    target_ids = model.target_tokenizer.tokenize(tf.constant([target])).numpy()[0].tolist()
    target_in, target_out = [1, *target_ids][:max_length], [*target_ids, 2][:max_length]
    return model.sequence_log_probability(
        source_ids[None, :max_source_length], np.array([target_in]), np.array([target_out])
    ).numpy()


def test_score_keeps_the_source_and_target_bounds_of_the_score_signature(translator):
    """`score` and the `score` signature keep the first `max_source_length` source tokens
    and score at most `max_length` target tokens (</s> only when it fits)."""
    target = "He had to do it."
    target_length = len(translator.target_tokenizer.tokenize(tf.constant([target]))[0])
    assert target_length > 4
    cut = teacher_forced(translator, LONG_SOURCE, target, 5, 4)
    fits = teacher_forced(translator, LONG_SOURCE, target, 5, target_length + 1)
    scores = translator.score([LONG_SOURCE] * 2, [target] * 2, max_source_length=5, max_length=4)
    assert_allclose(scores, np.concatenate([cut, cut]), atol=1e-4)
    # A target that fits keeps its </s>: a larger bound changes nothing.
    assert_allclose(
        translator.score(LONG_SOURCE, target, max_source_length=5, max_length=100), fits, atol=1e-4
    )
    # The bounds matter: more source tokens, or the whole target, give other scores.
    longer_source = translator.score(LONG_SOURCE, target, max_source_length=20, max_length=100)
    assert abs(longer_source[0] - fits[0]) > 1e-3 and abs(fits[0] - cut[0]) > 1e-3

    # The signature, with the same bounds, gives the same numbers.
    signature = translator.serving_signatures(max_length=4, max_source_length=5)["score"][0]
    served = signature(tf.constant([LONG_SOURCE]), tf.constant([target]))["log_probability"]
    assert_allclose(served, cut, atol=1e-4)


@pytest.mark.slow
def test_exported_score_signature_keeps_its_default_bounds(translator, tmp_path):
    """Exported with the default bounds (256 source and 100 target tokens) and reloaded, the
    score signature gives `score` with the same bounds."""
    long_target = "He had to do it. " * 8
    assert len(translator.source_tokenizer.tokenize(tf.constant([LONG_SOURCE]))[0]) > 256
    assert len(translator.target_tokenizer.tokenize(tf.constant([long_target]))[0]) > 100
    sources, targets = [LONG_SOURCE, "Wir müssen gehen."], [long_target, "We have to go."]
    version_dir = export(translator, tmp_path, name="translator")
    served = tf.saved_model.load(str(version_dir)).signatures["score"](
        source=tf.constant(sources), target=tf.constant(targets)
    )["log_probability"]
    expected = np.concatenate(
        [teacher_forced(translator, s, t, 256, 100) for s, t in zip(sources, targets, strict=True)]
    )
    assert_allclose(served, expected, atol=1e-4)
    in_process = translator.score(sources, targets, max_source_length=256, max_length=100)
    assert_allclose(in_process, expected, atol=1e-4)


def test_score_signature_refuses_unpaired_batches_and_takes_an_empty_one(translator):
    signature, specs = translator.serving_signatures(max_length=6)["score"]
    score = tf.function(signature, input_signature=specs, autograph=False)
    # One source and two targets used to broadcast the source and return two scores.
    with pytest.raises(tf.errors.InvalidArgumentError, match="as many strings"):
        score(tf.constant(["Wir müssen gehen."]), tf.constant(["We have to go.", "He had."]))
    empty = tf.constant([], tf.string)
    assert tuple(score(empty, empty)["log_probability"].shape) == (0,)


def test_generate_signature_takes_an_empty_batch(tokenizers):
    model = RNNLanguageModel(embedding_dim=4, units=4, tokenizer=tokenizers[1])
    signature, specs = model.serving_signatures(max_length=3)["generate"]
    outputs = tf.function(signature, input_signature=specs, autograph=False)(
        tf.constant([], tf.string)
    )
    assert {name: tuple(value.shape) for name, value in outputs.items()} == {
        "text": (0,),
        "continuation": (0,),
        "log_probability": (0,),
        "length": (0,),
    }


def greedy_ids(logits_of, prefix, steps):
    """Greedy continuation of ``prefix`` (a list of ids), one eager call of the model a step."""
    ids = list(prefix)
    for _ in range(steps):
        ids.append(int(np.argmax(logits_of(np.array([ids], "int32"))[0, -1])))
        if ids[-1] == 2:
            break
    return ids[len(prefix) :]


def test_text_methods_build_a_fresh_model(tokenizers):
    """translate / compiled_decode / serving_signatures / score / tied generate on a model
    nobody built used to fail with AttributeError (no embeddings, no output bias) or, for
    `score`, ran without the tied output bias."""
    source, target = tokenizers

    def fresh():
        return Seq2Seq(
            embedding_dim=4,
            units=8,
            tie_embeddings=True,
            source_tokenizer=source,
            target_tokenizer=target,
        )

    model = fresh()
    translation = model.translate(["Wir müssen gehen."], beam_size=1, max_length=5)
    assert model.built and hasattr(model, "output_bias")
    source_ids = model.source_ids_from_text(tf.constant(["Wir müssen gehen."]))
    expected = greedy_ids(
        lambda ids: model.forbid_special_tokens(model((source_ids, ids))), [1], steps=5
    )
    expected = [t for t in expected if t != 2]
    assert translation == [target.detokenize(tf.constant([expected])).numpy()[0].decode()]
    for method, call in (
        ("compiled_decode", lambda m: m.compiled_decode(beam_size=2, max_length_bound=3)),
        ("serving_signatures", lambda m: m.serving_signatures()),
        ("score", lambda m: m.score(["Wir"], ["We"])),
    ):
        model = fresh()
        call(model)
        assert model.built and hasattr(model, "output_bias"), method

    language_model = RNNLanguageModel(embedding_dim=4, units=4, tie_weights=True, tokenizer=target)
    text = language_model.generate(["We have"], max_length=4, return_continuation=True)
    assert language_model.built
    prompt = language_model.prompt_ids_from_text(tf.constant(["We have"])).numpy()[0].tolist()
    expected = greedy_ids(
        lambda ids: language_model.forbid_special_tokens(language_model(ids)), prompt, steps=4
    )
    expected = [t for t in expected if t != 2]
    assert text == [target.detokenize(tf.constant([expected])).numpy()[0].decode()]


def test_vocabulary_size_must_match_the_tokenizer(tokenizers):
    words = WordTokenizer.from_corpus([t for _, t in PAIRS])
    pieces = tokenizers[1]
    size = pieces.vocabulary_size
    message = "must equal the vocabulary size of"
    for bad in (size - 1, size + 1):
        with pytest.raises(ValueError, match=f"`vocabulary_size` {message}"):
            RNNLanguageModel(bad, tokenizer=pieces)
        with pytest.raises(ValueError, match=f"`target_vocabulary_size` {message}"):
            Seq2Seq(size, bad, source_tokenizer=pieces, target_tokenizer=pieces)
        with pytest.raises(ValueError, match=f"`source_vocabulary_size` {message}"):
            Seq2Seq(bad, size, source_tokenizer=pieces, target_tokenizer=pieces)
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(["a", "b"], vocabulary_size=5, tokenizer=words)
    with pytest.raises(ValueError, match=message):
        SequenceTagger(["A"], vocabulary_size=5, tokenizer=words)
    # The tokenizer's own size (what get_config stores) is accepted.
    assert RNNLanguageModel(size, tokenizer=pieces).vocabulary_size == size
    assert SequenceTagger(["A"], words.vocabulary_size, tokenizer=words).vocabulary_size == (
        words.vocabulary_size
    )


def test_length_and_dropout_arguments_are_checked(translator):
    language_model = RNNLanguageModel(
        embedding_dim=4, units=4, tokenizer=translator.target_tokenizer
    )
    for bad in (None, 0, -1, 2.5, True):
        with pytest.raises(ValueError, match=r"`max_length` must be an int in \[1, 2\*\*31"):
            translator.translate(["Wir"], beam_size=1, max_length=bad)
        with pytest.raises(ValueError, match=r"`max_length` must be an int in \[1, 2\*\*31"):
            translator.serving_signatures(max_length=bad)
        with pytest.raises(ValueError, match=r"`max_length` must be an int in \[1, 2\*\*31"):
            language_model.serving_signatures(max_length=bad)
        if bad is not None:
            with pytest.raises(ValueError, match=r"`max_length` must be None or an int in \["):
                translator.score(["Wir"], ["We"], max_length=bad)
            with pytest.raises(ValueError, match="`max_source_length`"):
                translator.score(["Wir"], ["We"], max_source_length=bad)
    for bad in (None, "0.1", 1.0, -0.5):
        with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\)"):
            RNNLanguageModel(10, dropout=bad)
    assert RNNLanguageModel(10, dropout=np.float32(0.5)).dropout == 0.5


def test_probabilities_and_scores_are_float32_under_mixed_precision(tokenizers):
    """bfloat16 `classify` probabilities and `score`s were coarse, and the signatures' bfloat16
    outputs made `export` refuse the model (TF Serving's REST API cannot carry them)."""
    words = WordTokenizer.from_corpus([t for _, t in PAIRS])
    source, target = tokenizers
    with dtype_policy("mixed_bfloat16"):
        classifier = SequenceClassifier(["a", "b", "c"], embedding_dim=4, units=4, tokenizer=words)
        classifier.build()
        translator = Seq2Seq(
            embedding_dim=4, units=8, source_tokenizer=source, target_tokenizer=target
        )
        translator.build()
        _, probabilities = classifier.classify(["We have to go.", ""])
        outputs = classifier.serving_signatures()["classify"][0](tf.constant(["We"]))
        scores = translator.score(["Wir müssen gehen."], ["We have to go."])
        signature = translator.serving_signatures()["score"][0]
        served = signature(tf.constant(["Wir"]), tf.constant(["We"]))["log_probability"]
    assert probabilities.dtype == np.float32 and outputs["probabilities"].dtype == tf.float32
    assert_allclose(probabilities.sum(axis=1), np.ones(2), atol=1e-6)
    assert scores.dtype == np.float32 and served.dtype == tf.float32
    # The float32 twin: the score is the same sum, computed from bfloat16 logits.
    twin = Seq2Seq(embedding_dim=4, units=8, source_tokenizer=source, target_tokenizer=target)
    twin.build()
    twin.set_weights(translator.get_weights())
    assert_allclose(scores, twin.score(["Wir müssen gehen."], ["We have to go."]), rtol=2e-2)


def test_a_fresh_classifier_and_tagger_export_and_serve_what_they_compute(tmp_path):
    """`serving_signatures` built only the LM and Seq2Seq: `export` of a classifier or tagger
    nobody had called refused it ("has not yet been built")."""
    words = WordTokenizer.from_corpus(["the cat sat", "buy cheap pills now"])
    texts = tf.constant(["the cat sat", "buy pills"])
    models = {
        "classifier": SequenceClassifier(
            ["ham", "spam"], embedding_dim=4, units=4, hidden_units=[], tokenizer=words
        ),
        "tagger": SequenceTagger(["DET", "NOUN"], embedding_dim=4, units=4, tokenizer=words),
    }
    for name, model in models.items():
        assert not model.built
        version_dir = export(model, tmp_path, name=name)
        served = tf.saved_model.load(str(version_dir)).signatures["serving_default"](text=texts)
        expected = model.classify_text(texts) if name == "classifier" else model.tag_text(texts)
        for key, value in expected.items():
            if value.dtype == tf.string:
                np.testing.assert_array_equal(served[key].numpy(), value.numpy(), err_msg=key)
            else:
                assert_allclose(served[key], value, atol=1e-6)

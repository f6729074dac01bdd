"""Round 11 of the models audit: the task models exported, served by the real local server on
127.0.0.1, and their REST answers compared with the in-process methods on ordinary and edge
inputs (empty, whitespace, unknown words, unicode, texts longer than the signatures' bounds);
length bounds beyond int32 refused; `generate` names `top_k` and `top_p` in its errors."""

import keras
import numpy as np
import pytest
import requests
from tensorflow_serving.config import model_server_config_pb2

from keras_seq.export import export
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from keras_seq.serving import ModelServer
from keras_seq.text import WordPieceTokenizer, WordTokenizer
from tests.layers.helpers import randomize
from tests.serving.local_server import ServerThread
from tests.test_case import assert_allclose

PAIRS = [
    ("Er hat es tun müssen.", "He had to do it."),
    ("Das ist nicht meine Schuld.", "It's not my fault."),
]
SENTENCES = ["the cat sat on the mat .", "buy cheap pills now", "the dog barks ."]
# 7 words a repeat: 301 words, 301 tokens of a word tokenizer (past the tagger's and the
# language model's 256), and 602 (past the classifier's 512) twice over.
LONG = " ".join(["the cat sat on the mat ."] * 43)
EDGE = [
    "the cat sat",
    "",
    "  \t\n ",
    "zorblax quuxify blorp",
    "猫が座った 🐱🎉 e\u0301 ñ",
    LONG,
    LONG + " " + LONG,
]


def _word_tokenizer():
    return WordTokenizer.from_corpus(SENTENCES)


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(11)
    keras.utils.set_random_seed(11)
    words = _word_tokenizer()
    source = WordPieceTokenizer.from_corpus([s for s, _ in PAIRS], 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus([t for _, t in PAIRS], 300, name="target_tokenizer")
    built = {
        "tagger": SequenceTagger(
            ["DET", "NOUN", "VERB"], embedding_dim=4, units=4, tokenizer=words
        ),
        "classifier": SequenceClassifier(
            ["ham", "spam"], embedding_dim=4, units=4, hidden_units=[], tokenizer=words
        ),
        "language_model": RNNLanguageModel(embedding_dim=4, units=8, tokenizer=words),
        "translator": Seq2Seq(
            embedding_dim=4, units=8, source_tokenizer=source, target_tokenizer=target
        ),
    }
    for model in built.values():
        model.build()
        randomize(model, rng, scale=1.0)
    return built


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    """Every model exported with its default signatures and served on 127.0.0.1."""
    base = tmp_path_factory.mktemp("round11_models")
    config = model_server_config_pb2.ModelServerConfig()
    for name, model in models.items():
        export(model, base, name=name, version=1)
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path, entry.model_platform = name, str(base / name), "tensorflow"
    with ServerThread(ModelServer(config, poll_interval=30)) as running:
        yield running


def _predict(server, model, signature, inputs):
    answer = requests.post(
        f"{server.url}/v1/models/{model}:predict",
        json={"signature_name": signature, "inputs": inputs},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["outputs"]


@pytest.mark.parametrize("signature", ["serving_default", "tag"])
def test_served_tags_are_those_of_tag_with_the_signature_bound(models, server, signature):
    # The signature tags the first 256 words of a text; `tag` took no bound, so the answer
    # for a longer text (whose backward states, hence tags, depend on the words kept) could
    # not be reproduced in process.
    tagger = models["tagger"]
    served = _predict(server, "tagger", signature, {"text": EDGE})
    expected = tagger.tag(EDGE, max_length=256)
    for row, (tokens, tags), text in zip(range(len(EDGE)), expected, EDGE, strict=True):
        pairs = zip(served["tokens"][row], served["tags"][row], strict=True)
        kept = [(w, t) for w, t in pairs if w]
        assert [w for w, _ in kept] == tokens, text[:40]
        assert [t for _, t in kept] == tags, text[:40]
    assert len(expected[-2][0]) == 256 and len(tagger.tag([LONG])[0][0]) == 301
    # The bound changes the tags of the words kept (it is not only a cut of the output).
    assert tagger.tag([LONG])[0][1][:256] != expected[-2][1]
    # A batch of one and a batch mixing empty and non-empty texts give the same rows.
    for batch in ([LONG], ["", LONG, ""]):
        assert tagger.tag(batch, max_length=256) == [expected[EDGE.index(text)] for text in batch]


@pytest.mark.parametrize("signature", ["serving_default", "classify"])
def test_served_classes_are_those_of_classify_with_the_signature_bound(models, server, signature):
    classifier = models["classifier"]
    served = _predict(server, "classifier", signature, {"text": EDGE})
    labels, probabilities = classifier.classify(EDGE, max_length=512)
    assert served["label"] == labels
    assert_allclose(np.asarray(served["probabilities"]), probabilities, atol=1e-6)
    # Without the bound the long texts are classified from all their tokens: other numbers.
    assert not np.allclose(classifier.classify([LONG + " " + LONG])[1], probabilities[-1:])


@pytest.mark.parametrize("signature", ["serving_default", "generate"])
def test_served_generations_are_those_of_generate_with_the_signature_bound(
    models, server, signature
):
    language_model = models["language_model"]
    served = _predict(server, "language_model", signature, {"prompt": EDGE})
    texts = language_model.generate(EDGE, max_length=50, max_prompt_length=256)
    continuations = language_model.generate(
        EDGE, max_length=50, max_prompt_length=256, return_continuation=True
    )
    assert served["text"] == texts
    assert served["continuation"] == continuations
    # The prompt part of a long prompt is its last 256 tokens, as the signature reads it.
    assert texts[-2].startswith(" ".join(LONG.split()[-256:]))
    assert language_model.generate([LONG], max_length=50)[0] != texts[-2]


def test_served_translations_and_scores_are_those_of_the_methods(models, server):
    translator = models["translator"]
    options = {"max_length": 100, "max_source_length": 256}
    best = _predict(server, "translator", "serving_default", {"source": EDGE})
    assert best["translation"] == translator.translate(EDGE, beam_size=4, **options)
    several = _predict(server, "translator", "translate_nbest", {"source": EDGE})
    assert several["translations"] == translator.translate(EDGE, beam_size=4, n_best=4, **options)
    greedy = _predict(server, "translator", "translate_greedy", {"source": EDGE})
    assert greedy["translation"] == translator.translate(EDGE, beam_size=1, **options)
    # One output: the columnar answer is its value, without the name (TF Serving's rule).
    scores = _predict(server, "translator", "score", {"source": EDGE, "target": EDGE[::-1]})
    assert_allclose(
        np.asarray(scores),
        translator.score(EDGE, EDGE[::-1], **options),
        rtol=1e-5,
        atol=1e-4,
    )


def test_length_bounds_beyond_int32_are_refused_not_silently_emptying_rows(models):
    # A bound near 2**63 overflowed int64 in TensorFlow's ragged slice (each row's start plus
    # the bound): every row after the first came out empty, so the second text was
    # translated as "" with score 0, classified from padding alone and tagged with no token.
    huge = 2**63 - 1
    translator, tagger = models["translator"], models["tagger"]
    texts = ["the cat sat", "Er hat es tun müssen."]
    calls = [
        ("max_source_length", lambda: translator.translate(texts, max_source_length=huge)),
        ("max_source_length", lambda: translator.serving_signatures(max_source_length=huge)),
        ("max_source_length", lambda: translator.score(texts, texts, max_source_length=huge)),
        ("max_length", lambda: tagger.serving_signatures(max_length=huge)),
        ("max_length", lambda: tagger.tag(texts, max_length=2**31)),
        ("max_length", lambda: models["classifier"].serving_signatures(max_length=huge)),
        ("max_length", lambda: models["classifier"].classify(texts, max_length=huge)),
        (
            "max_prompt_length",
            lambda: models["language_model"].serving_signatures(max_prompt_length=huge),
        ),
        (
            "max_length",
            lambda: SequenceClassifier(["a", "b"], max_length=huge, tokenizer=_word_tokenizer()),
        ),
    ]
    for name, call in calls:
        message = rf"`{name}` must be None or an int >= 1 and <= 2\*\*31 - 1, got"
        with pytest.raises(ValueError, match=message):
            call()
    # The largest int32 bound still means "every token".
    bounded = translator.translate(texts, beam_size=1, max_length=5, max_source_length=2**31 - 1)
    assert bounded == translator.translate(texts, beam_size=1, max_length=5)
    assert bounded[1] != ""


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"top_k": 0}, ValueError, "`top_k` must be None or an int >= 1, got 0"),
        ({"top_k": -3}, ValueError, "`top_k` must be None or an int >= 1, got -3"),
        ({"top_k": 1.5}, TypeError, "`top_k` must be None or an int >= 1, got 1.5"),
        ({"top_k": True}, TypeError, "`top_k` must be None or an int >= 1, got True"),
        ({"top_p": 0}, ValueError, r"`top_p` must be None or a float in \(0, 1\], got 0"),
        ({"top_p": 1.5}, ValueError, r"`top_p` must be None or a float in \(0, 1\], got 1.5"),
        ({"top_p": float("nan")}, ValueError, r"`top_p` must be None or a float in \(0, 1\]"),
        ({"top_p": "0.9"}, TypeError, r"`top_p` must be None or a float in \(0, 1\]"),
    ],
)
def test_generate_names_top_k_and_top_p_in_its_errors(models, options, error, message):
    # The samplers' own errors named their `k` and `p`, arguments no caller of `generate`
    # wrote (as `translate` named BeamSearch's `alpha` for `length_penalty`, round 4).
    with pytest.raises(error, match=message):
        models["language_model"].generate(["the cat"], max_length=3, **options)

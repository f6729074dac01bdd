"""RNNLanguageModel: teacher-forced path == step path, tying, generation, saving, export."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import GreedySearch
from keras_seq.export import export
from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import Perplexity
from keras_seq.models.rnn_language_model import RNNLanguageModel
from keras_seq.text import WordPieceTokenizer
from tests.layers.helpers import randomize
from tests.test_case import assert_allclose, run_model_saving_test

IDS = np.array([[1, 5, 6, 7, 8], [1, 9, 4, 0, 0]], "int32")
TEXTS = [
    "Call me Ishmael.",
    "Some years ago, never mind how long precisely, I thought I would sail about.",
    "It is a way I have of driving off the spleen.",
    "Whenever I find myself growing grim about the mouth, I go to sea.",
]
CONFIGS = {
    "lstm": dict(),
    "gru_two_layers": dict(cell="gru", num_layers=2),
    "tied_same_size": dict(tie_weights=True, embedding_dim=8),
    "tied_projected": dict(tie_weights=True, num_layers=2, dropout=0.2),
}


def make(config, seed=0):
    model = RNNLanguageModel(12, **{"embedding_dim": 6, "units": 8, **CONFIGS[config]})
    model.build()
    randomize(model, np.random.default_rng(seed))
    return model


@pytest.fixture(scope="module")
def language_model():
    keras.utils.set_random_seed(0)
    tokenizer = WordPieceTokenizer.from_corpus(TEXTS, 300)
    model = RNNLanguageModel(embedding_dim=8, units=16, num_layers=2, tokenizer=tokenizer)
    model.build()
    randomize(model, np.random.default_rng(0), scale=1.0)
    return model


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_logits_equal_a_manual_step_by_step_run(config):
    model = make(config)
    logits = model(IDS).numpy()
    states = [[tf.zeros((2, size)) for size in level.state_size] for level in model.stack.levels]
    for t in range(IDS.shape[1]):
        step_logits, states = model.step(tf.constant(IDS[:, t]), states)
        valid = IDS[:, t] != 0
        assert_allclose(step_logits.numpy()[valid], logits[valid, t], atol=1e-5)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_saves_and_reloads_with_identical_outputs(config):
    run_model_saving_test(make(config), IDS)


def test_weight_tying_shares_one_variable_that_gets_both_gradients():
    """Tied gradient == embedding gradient + output-kernel gradient of the untied twin."""
    tied = RNNLanguageModel(12, embedding_dim=8, units=8, tie_weights=True)
    tied.build()
    randomize(tied, np.random.default_rng(0))
    assert sum(tuple(w.shape) == (12, 8) for w in tied.trainable_weights) == 1
    assert tied.tied_projection is None
    untied = RNNLanguageModel(12, embedding_dim=8, units=8)
    untied.build()
    untied.embedding.embeddings.assign(tied.embedding.embeddings)
    untied.stack.set_weights(tied.stack.get_weights())
    untied.output_layer.kernel.assign(tf.transpose(tied.embedding.embeddings))
    untied.output_layer.bias.assign(tied.output_bias)
    targets = np.array([[5, 6, 7, 8, 2], [9, 4, 2, 0, 0]], "int32")
    loss = MaskedSequenceLoss()

    def gradients(model, variables):
        with tf.GradientTape() as tape:
            value = loss(targets, model(IDS, training=True))
        return tape.gradient(value, variables)

    (tied_gradient,) = gradients(tied, [tied.embedding.embeddings])
    input_use, output_use = gradients(
        untied, [untied.embedding.embeddings, untied.output_layer.kernel]
    )
    input_use = tf.convert_to_tensor(input_use)
    assert_allclose(tied_gradient, input_use + tf.transpose(output_use), atol=1e-6)
    # Both uses contribute: token 10 never is an input, tokens 5..9 are.
    assert np.abs(input_use.numpy()[10]).max() == 0 and np.abs(tied_gradient.numpy()[10]).max() > 0
    assert np.abs(input_use.numpy()[5]).max() > 0

    projected = RNNLanguageModel(12, embedding_dim=6, units=8, tie_weights=True)
    projected.build()
    assert tuple(projected.tied_projection.kernel.shape) == (8, 6)
    assert sum(tuple(w.shape) == (12, 6) for w in projected.trainable_weights) == 1


def test_trains_one_step_with_masked_loss_and_perplexity():
    model = make("tied_projected")
    model.compile(keras.optimizers.Adam(0.01), MaskedSequenceLoss(), metrics=[Perplexity()])
    targets = np.array([[5, 6, 7, 8, 2], [9, 4, 2, 0, 0]], "int32")
    before = model.embedding.embeddings.numpy().copy()
    logs = model.train_on_batch(IDS, targets, return_dict=True)
    assert not np.allclose(before, model.embedding.embeddings.numpy())
    # Perplexity of the batch before the step = exp(mean cross-entropy over real tokens).
    assert_allclose(np.log(logs["perplexity"]), logs["loss"], atol=1e-4)


def test_prompt_is_consumed_then_decoding_continues_from_its_last_token(language_model):
    """generate == a manual greedy loop: run the prompt through `call`, then argmax steps."""
    model = language_model
    prompt_ids = model.prompt_ids_from_text(tf.constant(["Call me", "It is a way"])).numpy()
    result = model.decode(prompt_ids, GreedySearch(), max_length=6)
    for row in range(2):
        tokens = [int(t) for t in prompt_ids[row] if t]
        generated = []
        for _ in range(6):
            logits = model.forbid_special_tokens(model(np.array([tokens], "int32")))[0, -1]
            token = int(np.argmax(logits))
            generated.append(token)
            tokens.append(token)
            if token == 2:
                break
        length = int(result.lengths[row, 0])
        assert result.ids[row, 0, :length].numpy().tolist() == generated


def test_generate_strings_greedy_equivalences_and_seeds(language_model):
    prompts = ["Call me", "", "It is a way I have"]
    greedy = language_model.generate(prompts, max_length=8)
    assert len(greedy) == 3 and all(isinstance(t, str) for t in greedy)
    assert greedy[0].startswith("Call me")
    continuation = language_model.generate(prompts, max_length=8, return_continuation=True)
    assert greedy[0] == "Call me" + continuation[0]
    assert language_model.generate(prompts, max_length=8, temperature=1e-6, seed=3) == greedy
    assert language_model.generate(prompts, max_length=8, top_k=1, seed=5) == greedy
    assert language_model.generate(prompts, max_length=8, temperature=0) == greedy
    first = language_model.generate(prompts, max_length=8, temperature=1.0, seed=7)
    assert language_model.generate(prompts, max_length=8, temperature=1.0, seed=7) == first
    draws = {
        tuple(language_model.generate(prompts, max_length=8, temperature=1.0, seed=seed))
        for seed in range(4)
    }
    assert len(draws) > 1  # random weights give a flat distribution: seeds differ


def test_bad_inputs(language_model):
    with pytest.raises(ValueError, match="empty"):
        language_model.generate([])
    with pytest.raises(TypeError, match="strings"):
        language_model.generate(["ok", 3])
    with pytest.raises(ValueError, match="max_length"):
        language_model.generate(["ok"], max_length=0)
    with pytest.raises(ValueError, match="not both"):
        language_model.generate(["ok"], top_k=2, top_p=0.5)
    with pytest.raises(ValueError, match="temperature"):
        language_model.generate(["ok"], temperature=-1.0)
    with pytest.raises(ValueError, match=r"`seed` must be an int in \[-2\*\*63, 2\*\*63 - 1\]"):
        language_model.generate(["ok"], temperature=1.0, seed=2**63)
    with pytest.raises(ValueError, match="vocabulary_size"):
        RNNLanguageModel(3)
    with pytest.raises(ValueError, match="cell"):
        RNNLanguageModel(10, cell="tree")
    with pytest.raises(ValueError, match="tokenizer"):
        make("lstm").generate(["Call me"])
    with pytest.raises(ValueError, match="shape"):
        make("lstm")(np.ones((2, 3, 1), "int32"))


def test_saved_model_with_tokenizer_generates_the_same_text(language_model, tmp_path):
    path = tmp_path / "lm.keras"
    language_model.save(path)
    restored = keras.saving.load_model(path)
    prompts = ["Call me", "Whenever I find"]
    assert restored.generate(prompts, max_length=6) == language_model.generate(
        prompts, max_length=6
    )


def test_export_serves_the_eager_generations_through_the_session_loader(language_model, tmp_path):
    version_dir = export(language_model, tmp_path, name="language_model")
    checked = subprocess.run(
        [sys.executable, "-m", "keras_seq.cli", "check-export", str(version_dir)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    prompts = ["Call me", "", "It is a way"]
    eager = language_model.serving_signatures()["generate"][0](tf.constant(prompts))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        assert set(meta.signature_def) - {"__saved_model_init_op"} == {
            "serving_default",
            "generate",
        }
        signature = meta.signature_def["generate"]
        fetches = {k: v.name for k, v in signature.outputs.items()}
        served = session.run(fetches, {signature.inputs["prompt"].name: prompts})
    assert served["text"].tolist() == eager["text"].numpy().tolist()
    assert served["continuation"].tolist() == eager["continuation"].numpy().tolist()
    assert_allclose(served["log_probability"], eager["log_probability"], atol=1e-5)


def test_serving_prompt_bound_reads_the_last_tokens(language_model):
    """A prompt longer than `max_prompt_length` tokens is read from `<s>` and its last tokens:
    the generation equals decoding from exactly those ids, and an export signature's work no
    longer grows with the prompt (before, the RNN ran over every token of any prompt)."""
    model = language_model
    tail = "I go to sea."
    long_prompt = " ".join(TEXTS) + " " + tail
    n_tail = int(model.tokenizer.tokenize(tf.constant([tail])).row_lengths()[0])
    full = model.tokenizer.tokenize(tf.constant([long_prompt]))[0].numpy().tolist()
    assert len(full) > 3 * n_tail
    ids = model.prompt_ids_from_text(tf.constant([long_prompt, tail, ""]), n_tail).numpy()
    assert ids[0].tolist() == [1] + full[-n_tail:]  # <s> + exactly the last tokens
    untouched = model.prompt_ids_from_text(tf.constant([tail])).numpy()[0]
    np.testing.assert_array_equal(ids[1], untouched)  # a prompt within the bound
    assert ids[2].tolist() == [1] + [0] * n_tail  # an empty prompt keeps <s>
    generate = model.serving_signatures(max_length=6, max_prompt_length=n_tail)["generate"][0]
    served = generate(tf.constant([long_prompt]))
    result = model.decode(ids[:1], GreedySearch(), max_length=6)
    assert int(served["length"][0]) == int(result.lengths[0, 0])
    assert_allclose(served["log_probability"][0], result.log_probs[0, 0], atol=1e-5)
    expected = model.tokenizer.detokenize(result.ids[:, 0])[0].numpy()
    assert served["continuation"][0].numpy() == expected
    whole = model.serving_signatures(max_length=6, max_prompt_length=None)["generate"][0]
    read_whole = whole(tf.constant([long_prompt]))["text"][0].numpy().decode()
    assert len(read_whole) > len(served["text"][0].numpy().decode()) + len(TEXTS[0])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_prompt_length"):
            model.serving_signatures(max_prompt_length=bad)

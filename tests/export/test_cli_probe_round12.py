"""`keras-seq` probe round 12: option values past the model's and TF Serving's int32/float32
limits are usage errors; a models.config that is not UTF-8, a base directory that cannot be
listed, a closed pipe, a full disk and Ctrl-C end `check-export` with a status and a line, not
a traceback; `translate` names a closed stdin/stdout, a --model that is no regular file and an
output it cannot write; a checker killed by a signal is said to be."""

import io
import os
import signal
import subprocess
import sys

import pytest

from keras_seq import cli
from keras_seq.export import CHECKER_PATH
from keras_seq.export.standalone_checker import model_config_problems
from tests.export.test_cli_probe_round5 import ROOT, favouring


@pytest.fixture(scope="module")
def translator_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli12") / "quote.keras")
    favouring("’", path)
    return path


@pytest.fixture
def no_server(monkeypatch):
    """Makes `keras-seq serve` fail instead of serving, should it get that far."""
    import keras_seq.serving

    def run_server(*args, **kwargs):
        raise AssertionError("the server was started")

    monkeypatch.setattr(keras_seq.serving, "run_server", run_server)


def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2, info.value.code
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--beam_size", "2147483648"),
        ("--n_best", "2147483648"),
        ("--max_length", "2147483648"),
        ("--max_source_length", "99999999999999999999"),
        ("--length_penalty", "1e39"),
    ],
)
def test_translate_values_past_the_models_limits_are_usage_errors(capsys, flag, value):
    # The parser took them; the model refused them only once loaded, with status 1 and its
    # own argument's name: "translate: `alpha` must be >= 0 and finite in float32 ...",
    # "translate: `max_length` must be an int in [1, 2**31 - 1] ...".
    argv = ["translate", "--model", "unused.keras", "--beam_size", "2147483647", flag, value]
    limit = "3.4028234663852886e+38" if flag == "--length_penalty" else "2147483647"
    assert _usage_error(capsys, argv).endswith(
        f"argument {flag}: expected at most {limit}, got '{value}'"
    )
    largest = ["--max_length", "2147483647", "--length_penalty", "3.4028234663852886e38"]
    args = cli.build_parser().parse_args([*argv[:5], *largest])
    assert args.beam_size == args.max_length == 2147483647


@pytest.mark.parametrize(
    "flag, value",
    [
        # Every prediction answered 500 "ValueError: Value out of range" (the int64
        # RunOptions.timeout_in_ms of the session run).
        ("--rest_api_timeout_in_ms", "99999999999999999999"),
        # The poller threads died at once: "OverflowError: timestamp out of range for
        # platform time_t" (threading waits at most TIMEOUT_MAX, about 9.2e9 s).
        ("--file_system_poll_wait_seconds", "1e10"),
        ("--model_config_file_poll_wait_seconds", "1e10"),
    ],
)
def test_serve_values_past_tf_servings_int32_flags_are_usage_errors(
    capsys, tmp_path, no_server, flag, value
):
    argv = ["serve", "--model_base_path", str(tmp_path), "--rest_api_port", "0", flag, value]
    assert _usage_error(capsys, argv).endswith(
        f"argument {flag}: expected at most 2147483647, got '{value}'"
    )


def test_serve_names_a_model_config_file_that_is_not_utf8(tmp_path, no_server):
    # "serve: 'utf-8' codec can't decode byte 0xff in position 36: invalid start byte",
    # naming neither the file nor the flag.
    config = tmp_path / "models.config"
    config.write_bytes(b'model_config_list { config { name: "\xff" base_path: "/x" } }')
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--model_config_file", str(config), "--rest_api_port", "0"])
    assert info.value.code.startswith(
        f"serve: --model_config_file {config} is not UTF-8 text: 'utf-8' codec can't decode"
    )


def test_check_export_reports_a_model_config_file_that_is_not_utf8(tmp_path):
    # The checker ended with a UnicodeDecodeError traceback after the versions' PASS lines.
    config = tmp_path / "models.config"
    config.write_bytes(b'model_config_list { config { name: "\xff" base_path: "/x" } }')
    problems, notes = model_config_problems(str(config))
    assert len(problems) == 1 and notes == []
    assert problems[0].startswith(f"{config}: not a ModelServerConfig: not UTF-8 text (")


# The checker run as `keras-seq check-export` runs it, with os.listdir of one path made to
# fail as an unreadable directory does (root reads any) or as Ctrl-C interrupts it.
HARNESS = """
import os, runpy, sys
checker, target, effect = sys.argv[1:4]
listdir = os.listdir
def fake_listdir(path="."):
    if os.fspath(path) == target:
        if effect == "interrupt":
            raise KeyboardInterrupt
        raise PermissionError(13, "Permission denied", path)
    return listdir(path)
os.listdir = fake_listdir
sys.argv = [checker, target]
runpy.run_path(checker, run_name="__main__")
"""


def _run_checker(command, stdout=subprocess.PIPE):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    return subprocess.run(
        command, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300, env=env
    )


def test_check_export_reports_a_base_directory_it_cannot_list(tmp_path):
    # PermissionError traceback from os.listdir; the paths after it were never checked.
    run = _run_checker([sys.executable, "-c", HARNESS, CHECKER_PATH, str(tmp_path), "deny"])
    assert run.returncode == 1, run.stderr[-2000:]
    assert f"FAIL {tmp_path}: cannot list it: Permission denied" in run.stdout.splitlines()
    assert "Traceback" not in run.stderr


def test_check_export_interrupted_ends_with_status_130_without_a_traceback(tmp_path):
    # Ctrl-C reaches the checker process too (same process group), which printed its
    # KeyboardInterrupt traceback under the command's quiet 130.
    run = _run_checker([sys.executable, "-c", HARNESS, CHECKER_PATH, str(tmp_path), "interrupt"])
    assert run.returncode == 130, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr


def test_check_export_into_a_closed_pipe_ends_quietly_with_status_141(tmp_path):
    # `keras-seq check-export ... | head -1`: a BrokenPipeError traceback from the checker
    # (or "Exception ignored ... BrokenPipeError" and status 120), where translate ends
    # quietly with 141.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        run = _run_checker([sys.executable, CHECKER_PATH, str(tmp_path / "missing")], write_end)
    finally:
        os.close(write_end)
    assert run.returncode == 141, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_check_export_onto_a_full_disk_says_so(tmp_path):
    # "OSError: [Errno 28] No space left on device" as a traceback.
    with open("/dev/full", "w") as full:
        run = _run_checker([sys.executable, CHECKER_PATH, str(tmp_path / "missing")], full)
    assert run.returncode == 1, run.stderr[-2000:]
    assert run.stderr.strip().splitlines()[-1] == (
        "check-export: cannot write the report: no space left on device"
    )
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr


def test_check_export_names_the_signal_that_killed_the_checker(monkeypatch, capsys):
    # The OOM killer's SIGKILL made `keras-seq check-export` exit 247 (256 - 9) with no word.
    def killed(command, **kwargs):
        return subprocess.CompletedProcess(command, -signal.SIGKILL)

    monkeypatch.setattr(subprocess, "run", killed)
    assert cli.main(["check-export", "base"]) == 128 + signal.SIGKILL
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "check-export: the checker process was killed by SIGKILL"
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_translate_onto_a_full_disk_says_so(translator_path):
    # "OSError: [Errno 28] No space left on device" as a traceback, after translating.
    args = cli.build_parser().parse_args(
        ["translate", "--model", translator_path, "--max_length", "3", "--beam_size", "1"]
    )
    with open("/dev/full", "w", encoding="utf-8") as full:
        with pytest.raises(SystemExit) as info:
            cli._translate(args, io.StringIO("das ist gut\n"), full)
        full.write("x" * 100_000)  # the descriptor is os.devnull now: exit cannot fail
        full.flush()
    assert info.value.code == "translate: cannot write the output: no space left on device"


@pytest.mark.parametrize("stream", ["stdin", "stdout"])
def test_translate_with_a_closed_stdin_or_stdout_says_so(translator_path, monkeypatch, stream):
    # `keras-seq translate ... <&-` (or `>&-`): Python's sys.stdin is None; the model was
    # loaded, then "AttributeError: 'NoneType' object has no attribute 'readline'".
    monkeypatch.setattr(sys, stream, None)
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", translator_path])
    name, hint = ("input", "< input.txt") if stream == "stdin" else ("output", "> out.txt")
    assert info.value.code == f"translate: the standard {name} is closed; give one ({hint})"


def test_a_model_that_is_no_regular_file_is_named_so(tmp_path):
    # "translate: --model /dev/null: no such file" of a file that is there (a device, a pipe
    # from `--model <(...)`).
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    for path in (os.devnull, str(fifo)):
        with pytest.raises(SystemExit) as info:
            cli.main(["translate", "--model", path])
        assert info.value.code == (
            f"translate: --model {path} is not a regular file; give the .keras file"
        )

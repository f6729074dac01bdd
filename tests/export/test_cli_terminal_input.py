"""`keras-seq translate` at a terminal answers each line when it is entered (it read the whole
input first, so nothing came before Ctrl-D); from a pipe it still reads the input whole."""

import io
import os
import pty
import select
import subprocess
import sys

import pytest

from keras_seq import cli
from tests.export.test_cli_probe_round5 import ROOT, favouring


def _read_line(fd, timeout):
    """One line from ``fd``, or what came before ``timeout`` seconds passed."""
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def test_a_line_entered_at_a_terminal_is_translated_before_the_input_ends(tmp_path):
    path = str(tmp_path / "quote.keras")
    model = favouring("’", path)
    expected = model.translate(["das ist gut"], max_length=3)[0]
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_seq.cli", "translate", "--model", path, "--max_length", "3"],
        cwd=ROOT,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    os.close(slave)
    try:
        os.write(master, b"das ist gut\n")
        # The input is still open: the answer must come without Ctrl-D.
        first = _read_line(process.stdout.fileno(), timeout=120)
        assert first.decode("utf-8") == expected + "\n"
        os.write(master, b"er hat es\n\x04")  # a second line, then Ctrl-D (end of input)
        rest, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert process.returncode == 0
    assert rest.decode("utf-8") == model.translate(["er hat es"], max_length=3)[0] + "\n"


def test_piped_input_is_read_whole_before_any_output(tmp_path):
    # A line that is not UTF-8 stops the command before it writes anything.
    path = str(tmp_path / "quote.keras")
    favouring("’", path)
    args = cli.build_parser().parse_args(["translate", "--model", path, "--max_length", "3"])
    stdin = io.TextIOWrapper(io.BytesIO(b"das ist gut\n" * 40 + b"\xff\n"), encoding="utf-8")
    stdout = io.StringIO()
    with pytest.raises(SystemExit, match="^translate: line 41 of the input is not valid UTF-8$"):
        cli._translate(args, stdin, stdout)
    assert stdout.getvalue() == ""

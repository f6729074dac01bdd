"""`keras-seq` probe round 5: one output line per input line whatever the model decodes, a
leading BOM dropped, UTF-8 output whatever the locale, a closed pipe or Ctrl-C without a
traceback, a full --help description and a hint for an export directory given as --model."""

import io
import os
import signal
import subprocess
import sys

import pytest

from keras_seq import cli
from keras_seq.models import Seq2Seq
from keras_seq.text import WordPieceTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCES = ["das ist gut", "er hat es"]


def favouring(token, path):
    """A tiny translator saved to ``path`` whose decoder always picks the target ``token``
    (zero output kernel, a large bias on ``token``): what a badly trained model can emit."""
    source = WordPieceTokenizer.from_corpus(SOURCES * 5, 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus(
        ["it’s good", "he has it"] * 5, 300, name="target_tokenizer"
    )
    model = Seq2Seq(embedding_dim=4, units=4, source_tokenizer=source, target_tokenizer=target)
    model.build()
    kernel, bias = model.output_layer.get_weights()
    bias[:] = 0.0
    bias[target.vocabulary.index(token)] = 50.0
    model.output_layer.set_weights([kernel * 0.0, bias])
    model.save(path)
    return model


@pytest.fixture(scope="module")
def newline_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli") / "newline.keras")
    return favouring("<0x0A>", path), path


@pytest.fixture(scope="module")
def quote_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli") / "quote.keras")
    return favouring("’", path), path  # U+2019: no latin-1 character


def translate_args(path, *argv):
    return cli.build_parser().parse_args(["translate", "--model", path, "--max_length", "3", *argv])


def test_one_line_replaces_every_line_break_with_a_space():
    assert cli.one_line("a\nb\r\nc\rd\x0be\x0cf\x1cg\x1dh\x1ei\x85j\u2028k\u2029l") == (
        "a b  c d e f g h i j k l"
    )
    assert cli.one_line("no break\there") == "no break\there"


@pytest.mark.parametrize("n_best", [None, "2"])
def test_translate_prints_one_line_per_input_line(newline_model, n_best):
    # The byte token <0x0A> decodes to "\n": 2 input lines gave 8 output lines.
    model, path = newline_model
    assert model.translate(SOURCES, beam_size=1, max_length=3) == ["\n\n\n", "\n\n\n"]
    argv = ["--beam_size", "2"] + (["--n_best", n_best] if n_best else [])
    stdout = io.StringIO()
    cli._translate(translate_args(path, *argv), io.StringIO("\n".join(SOURCES) + "\n"), stdout)
    lines = stdout.getvalue().split("\n")
    assert lines.pop() == ""  # after the final newline
    if n_best is None:
        assert lines == ["   ", "   "]
    else:
        assert [line.split(" ||| ")[0] for line in lines] == ["0", "0", "1", "1"]
        assert all(set(line.split(" ||| ")[1]) == {" "} for line in lines)


def test_a_leading_byte_order_mark_is_dropped():
    # It became byte-fallback tokens, so the first sentence was translated differently.
    stdin = io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbfEr hat\n\xef\xbb\xbfEr hat\n"), "utf-8")
    assert cli._read_lines(stdin) == ["Er hat", "\ufeffEr hat"]  # only the file's first
    assert cli._read_lines(io.StringIO("\ufeffa\nb")) == ["a", "b"]


def test_translations_are_written_as_utf8_whatever_the_stream_encoding(quote_model):
    # UnicodeEncodeError: 'latin-1' codec can't encode character '\u2019' (PYTHONIOENCODING,
    # a Windows code page), after the model had translated.
    model, path = quote_model
    expected = model.translate(SOURCES, beam_size=1, max_length=3)
    assert expected == ["’’’", "’’’"]
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="latin-1")
    stdin = io.StringIO("\n".join(SOURCES) + "\n")
    assert cli._translate(translate_args(path, "--beam_size", "1"), stdin, stdout) == 0
    assert raw.getvalue().decode("utf-8") == "’’’\n’’’\n"


def test_a_closed_pipe_ends_quietly_with_status_141(quote_model, monkeypatch, capsys):
    # `keras-seq translate ... | head -1` ended with a BrokenPipeError traceback.
    _, path = quote_model
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away
    stdout = os.fdopen(write_end, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO("das ist gut\n" * 3))
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        assert cli.main(["translate", "--model", path, "--beam_size", "1"]) == 141
        stdout.write("x" * 100_000)  # now os.devnull: the exit-time flush cannot fail
        stdout.flush()
    finally:
        stdout.close()
    assert "Traceback" not in capsys.readouterr().err


def test_ctrl_c_ends_with_status_130_and_no_traceback(quote_model):
    # Ctrl-C printed a KeyboardInterrupt traceback.
    _, path = quote_model
    command = [sys.executable, "-m", "keras_seq.cli", "translate", "--model", path]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        # The input is read once the model is loaded; more than a pipe holds (64 KiB) is only
        # written when the command reads it, so then it waits for the rest of its input.
        process.stdin.write(b"das ist gut\n" * 40_000)
        process.stdin.flush()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert stdout == b""
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr


def test_help_description_is_a_whole_sentence(capsys):
    # It was the docstring's first line, cut mid-sentence: "... ``check-export`` and".
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert cli.build_parser().description == cli.DESCRIPTION
    assert "... Serve, check and use keras_seq models: serve (TF Serving's REST API)," in help_text
    assert "and translate (stdin to stdout with a trained .keras model). " in help_text


def test_an_export_directory_given_as_model_gets_a_hint(tmp_path):
    # It said "no such file" about a directory that exists.
    version = tmp_path / "translator" / "1"
    version.mkdir(parents=True)
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", str(version)])
    assert info.value.code == (
        f"translate: --model {version} is a directory; give the .keras file (an export "
        "directory is served with `keras-seq serve`)"
    )

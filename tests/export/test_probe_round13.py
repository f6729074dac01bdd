"""`keras-seq translate` probe round 13: lines end where Python's universal newlines end them
(``\\n``, ``\\r\\n`` and the lone ``\\r`` of classic Mac OS files, which was one line), still one
output line (or ``--n_best`` lines) per input line; a line longer than ``--max_line_bytes``
(64 KiB by default) stops the command, naming the line and the flag, once that much of it was
read, where it was read, tokenized and encoded whole."""

import io

import pytest

from keras_seq import cli
from tests.export.test_cli_probe_round5 import favouring


@pytest.fixture(scope="module")
def quote_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli13") / "quote.keras")
    return favouring("’", path), path


def _stdin(data):
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def _args(path, *argv):
    return cli.build_parser().parse_args(["translate", "--model", path, "--max_length", "3", *argv])


@pytest.mark.parametrize(
    "data, lines",
    [
        (b"das ist gut\rer hat es\r\rgut\r", ["das ist gut", "er hat es", "", "gut"]),
        (b"a\r\nb\rc\nd", ["a", "b", "c", "d"]),
        (b"a\r\r\n\nb", ["a", "", "", "b"]),
        (b"\xef\xbb\xbfa\rb", ["a", "b"]),
        (b"\r", [""]),
        (b"", []),
    ],
)
def test_input_lines_end_at_universal_newlines(data, lines):
    assert lines == data.decode("utf-8-sig").splitlines()  # what Python's text files do
    assert cli._read_lines(_stdin(data)) == lines
    assert cli._read_lines(io.StringIO(data.decode("utf-8"))) == [
        line.removeprefix("\ufeff") for line in lines
    ]


def test_a_crlf_cut_between_two_reads_is_one_line_end(monkeypatch):
    monkeypatch.setattr(cli, "_READ_SIZE", 2)
    assert cli._read_lines(_stdin(b"a\r\nbc\r\nd\r\re")) == ["a", "bc", "d", "", "e"]
    assert cli._read_lines(io.StringIO("a\r\nbc\r\nd\r\re")) == ["a", "bc", "d", "", "e"]


def test_a_line_that_is_not_utf8_is_numbered_by_universal_newlines():
    with pytest.raises(SystemExit) as info:
        cli._read_lines(_stdin(b"ok\rok\r\n\xff\n"))
    assert info.value.code == "translate: line 3 of the input is not valid UTF-8"


@pytest.mark.parametrize("n_best", [None, "2"])
def test_a_cr_only_file_is_translated_line_by_line(quote_model, n_best):
    # It was read as one line: one translation (or one n-best group, index 0) for the file.
    model, path = quote_model
    sources = ["das ist gut", "er hat es", "", "gut"]
    argv = ["--beam_size", "2"] + (["--n_best", n_best] if n_best else [])
    stdout = io.StringIO()
    assert (
        cli._translate(_args(path, *argv), _stdin("\r".join(sources).encode() + b"\r"), stdout) == 0
    )
    options = {"beam_size": 2, "max_length": 3}
    if n_best is None:
        expected = [cli.one_line(t) for t in model.translate(sources, **options)]
    else:
        expected = [
            f"{index} ||| {cli.one_line(hypothesis)}"
            for index, hypotheses in enumerate(model.translate(sources, n_best=2, **options))
            for hypothesis in hypotheses
        ]
    assert stdout.getvalue().split("\n") == [*expected, ""]
    assert len(expected) == len(sources) * (2 if n_best else 1)


def test_max_line_bytes_defaults_to_64_kib_and_0_is_no_limit(capsys):
    assert cli.DEFAULT_MAX_LINE_BYTES == 64 * 1024
    assert _args("m.keras").max_line_bytes == 64 * 1024
    assert _args("m.keras", "--max_line_bytes", "0").max_line_bytes == 0
    with pytest.raises(SystemExit) as info:
        cli.main(["translate", "--model", "m.keras", "--max_line_bytes", "-1"])
    assert info.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith("argument --max_line_bytes: expected an int >= 0, got '-1'")
    )


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_a_line_over_max_line_bytes_is_refused_naming_it_and_the_flag(end):
    # At most 10 bytes a line, its line end not counted; the last line has none.
    data = b"ok\n" + b"x" * 10 + end + b"ok" + end + b"y" * 11
    assert cli._read_lines(_stdin(data[: 3 + 10 + len(end)]), 10) == ["ok", "x" * 10]
    with pytest.raises(SystemExit) as info:
        cli._read_lines(_stdin(data), 10)
    assert info.value.code == (
        "translate: line 4 of the input is longer than 10 bytes; raise --max_line_bytes "
        "(0: no limit) or split the line"
    )
    # Bytes, not characters: "é" is 2.
    with pytest.raises(SystemExit, match="^translate: line 1 of the input is longer than 10"):
        cli._read_lines(_stdin(("é" * 6).encode()), 10)
    assert cli._read_lines(_stdin(("é" * 5).encode()), 10) == ["é" * 5]
    assert cli._read_lines(_stdin(data), None)[-1] == "y" * 11


class _CountingStream(io.RawIOBase):
    """``size`` bytes of "x" and no line end, counting what was read."""

    def __init__(self, size):
        self.left = size
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        buffer[:count] = b"x" * count
        self.left -= count
        self.read_bytes += count
        return count


def test_a_huge_line_is_refused_before_it_is_read_whole():
    # 32 MiB without a line end was read whole into memory, then tokenized and encoded.
    raw = _CountingStream(32 * 1024 * 1024)
    stdin = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8")
    with pytest.raises(SystemExit, match="^translate: line 1 of the input is longer than 65536"):
        cli._read_lines(stdin)
    assert raw.read_bytes < 4 * 65536


def test_translate_refuses_a_long_line_before_any_output(quote_model):
    # Piped input is read whole first: nothing is written, the status is 1.
    _, path = quote_model
    stdout = io.StringIO()
    data = b"das ist gut\n" * 3 + b"gut " * 20_000 + b"\n"
    with pytest.raises(SystemExit) as info:
        cli._translate(_args(path, "--beam_size", "1"), _stdin(data), stdout)
    assert info.value.code == (
        "translate: line 4 of the input is longer than 65536 bytes; raise --max_line_bytes "
        "(0: no limit) or split the line"
    )
    assert stdout.getvalue() == ""
    # Raised (or lifted), the line is translated; --max_source_length bounds its encoding.
    argv = ["--beam_size", "1", "--max_line_bytes", "0", "--max_source_length", "4"]
    assert cli._translate(_args(path, *argv), _stdin(data), stdout) == 0
    assert len(stdout.getvalue().split("\n")) == 5

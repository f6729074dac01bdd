"""``keras-seq`` command line: ``serve`` (TF Serving-compatible REST), ``check-export`` and
``translate`` (a trained model over stdin → stdout, one line out per line in).

Flags of ``serve`` keep TF Serving's names (``--model_base_path``, ``--model_name``,
``--rest_api_port``, ``--model_config_file``, ``--model_config_file_poll_wait_seconds``,
``--file_system_poll_wait_seconds``, ``--rest_api_num_threads``,
``--rest_api_timeout_in_ms``, ``--enable_batching``), so the same command line works against
``tensorflow_model_server`` when written as its flag parser reads it: ``--flag=value`` (not
``--flag value``), ``--enable_batching`` or ``--enable_batching=true|false``, whole seconds
for the poll waits (int32 flags there); the local server's own limits
(``--max_queued_requests``, ``--max_request_bytes``, ``--max_batch_size``,
``--max_string_bytes``) are documented in docs/security.md. ``translate`` reads lines as
Python's universal newlines end them, each of at most ``--max_line_bytes`` bytes
(docs/serving.md).
"""

import argparse
import errno
import logging
import math
import os
import re
import signal
import socket
import sys
import zipfile

# uvicorn's log level names (uvicorn.config.LOG_LEVELS).
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
DESCRIPTION = (
    "Serve, check and use keras_seq models: serve (TF Serving's REST API), check-export "
    "(prove an export servable) and translate (stdin to stdout with a trained .keras model)."
)
# What `str.splitlines` ends a line at: inside a translation, any of them would add a line.
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Where an input line ends: Python's universal newlines ("\r\n" first: one line end).
_LINE_ENDS = {str: re.compile("\r\n|\r|\n"), bytes: re.compile(b"\r\n|\r|\n")}
# Most bytes of one input line (--max_line_bytes), as `keras-seq serve`'s --max_string_bytes:
# a sentence is well under 1 KiB, and a line without limit is read, tokenized and encoded
# whole (a file without line ends is one line).
DEFAULT_MAX_LINE_BYTES = 64 * 1024
# What one read asks of stdin: a line longer than --max_line_bytes is refused after at most
# this much more of it was read.
_READ_SIZE = 64 * 1024
# Exit statuses of a shell command ended by SIGPIPE (128 + 13) and by Ctrl-C (128 + SIGINT).
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130
# The largest values the graphs and TF Serving's flags hold: lengths, beam sizes and
# TF Serving's int32 flags (--rest_api_timeout_in_ms, the poll seconds); float32 scores.
INT32_MAX = 2**31 - 1
# Not decoding's FLOAT32_MAX: this module loads without TensorFlow (its help and usage
# errors, tests/export/test_probe_round10.py).
FLOAT32_MAX = 3.4028234663852886e38


def bounded_number(kind, minimum=None, maximum=None, exclusive_minimum=False, at_most=None):
    """An argparse ``type``: a finite ``kind`` (int or float) within the given bounds (also
    used by the scripts under benchmarks/).

    Out-of-range values are refused by the parser with a one-line usage error, before any
    model is loaded, rather than failing later with a traceback (or, for a negative
    ``--batch_size``, translating nothing).

    ``at_most`` is a limit of the representation rather than of the option's meaning (an
    int32 in the graph or in TF Serving's flags): a larger value is refused saying so, other
    values are described by the bounds above as without it.
    """
    noun = "an int" if kind is int else "a number"
    if minimum is not None and maximum is not None:
        expected = f"{noun} in [{minimum}, {maximum}]"
    elif minimum is not None:
        expected = f"{noun} {'>' if exclusive_minimum else '>='} {minimum}"
    else:
        expected = "a finite number" if kind is float else noun

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        too_low = minimum is not None and (
            value <= minimum if exclusive_minimum else value < minimum
        )
        too_high = maximum is not None and value > maximum
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        if at_most is not None and value > at_most:
            raise argparse.ArgumentTypeError(f"expected at most {at_most!r}, got {text!r}")
        return value

    return parse


def _path(text):
    """An argparse ``type``: a path, not the empty string (which names no file)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got ''")
    return text


def _flag_bool(text):
    """An argparse ``type``: the value of a boolean flag written as tensorflow_model_server's
    parser reads it, ``true`` or ``false`` (``--enable_batching=true``, as in
    serving/docker_run.sh, was a usage error: "ignored explicit argument 'true'")."""
    if text not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text == "true"


def _check_port(host, port):
    """Exits (status 1) when the REST port cannot be listened on (another server holds it,
    a port below 1024 without the privilege, an address of no interface here): found before
    the models load, which takes minutes for large ones, not after. The port is bound as the
    server binds it (``SO_REUSEADDR``: a port whose connections are closing is free) and
    released; should another process take it in between, the server still exits with
    uvicorn's message."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise SystemExit(f"serve: --rest_api_host {host}: {error.strerror}") from None
    # As asyncio's create_server binds them (uvicorn's server): every address of the host, an
    # IPv6 one IPv6 only, skipping a family this machine lacks (no socket, or its address not
    # available) as long as one address binds.
    problem = None
    bound = False
    for family, kind, protocol, _, address in set(infos):
        try:
            probe = socket.socket(family, kind, protocol)
        except OSError:
            continue
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
                bound = True
            except OSError as error:
                if error.errno != errno.EADDRNOTAVAIL:
                    problem = error
                    break
                problem = problem or error
    if problem is not None and (not bound or problem.errno != errno.EADDRNOTAVAIL):
        reason = (problem.strerror or str(problem)).lower()
        raise SystemExit(f"serve: cannot listen on {host}:{port}: {reason}")


def _serve(args):
    from keras_seq.serving import ModelServer, run_server

    _check_port(args.rest_api_host, args.rest_api_port)
    options = {"poll_interval": args.file_system_poll_wait_seconds}
    try:
        if args.model_config_file:
            model_server = ModelServer.from_config_file(
                args.model_config_file,
                config_poll_interval=args.model_config_file_poll_wait_seconds,
                **options,
            )
        else:
            if args.model_config_file_poll_wait_seconds:
                # TF Serving ignores the flag without --model_config_file; so does this, but
                # says so.
                logging.getLogger(__name__).warning(
                    "--model_config_file_poll_wait_seconds has no effect without "
                    "--model_config_file"
                )
            model_server = ModelServer.for_base_path(
                args.model_name, args.model_base_path, **options
            )
    except UnicodeDecodeError as error:  # its message names neither the file nor the flag
        raise SystemExit(
            f"serve: --model_config_file {args.model_config_file} is not UTF-8 text: {error}"
        ) from None
    except (OSError, ValueError) as error:  # unreadable or malformed models.config
        raise SystemExit(f"serve: {error}") from None
    run_server(
        model_server,
        host=args.rest_api_host,
        port=args.rest_api_port,
        num_threads=args.rest_api_num_threads,
        max_queued=args.max_queued_requests,
        timeout=args.rest_api_timeout_in_ms / 1000.0,
        log_level=args.log_level,
        max_request_bytes=args.max_request_bytes,
        max_batch_size=args.max_batch_size or None,
        max_string_bytes=args.max_string_bytes or None,
        enable_batching=args.enable_batching,
    )
    return 0


def _check_export(args):
    from keras_seq.export import check_export

    # No timeout: the user can interrupt a long check; abandoning it would only add a traceback.
    result = check_export(
        args.paths,
        model_config_file=args.model_config_file,
        report_modules=args.report_modules,
        timeout=None,
        capture_output=False,
        rtol=args.rtol,
        atol=args.atol,
    )
    if result.returncode < 0:
        # Killed by a signal (the OOM killer's SIGKILL on a large model): the status was
        # 256 minus the signal (247), with no word of what happened.
        try:
            name = signal.Signals(-result.returncode).name
        except ValueError:
            name = f"signal {-result.returncode}"
        print(f"check-export: the checker process was killed by {name}", file=sys.stderr)
        return 128 - result.returncode
    return result.returncode


def one_line(text):
    """``text`` with every line break (``\\n``, ``\\r`` and the others `str.splitlines`
    ends a line at) replaced by a space: a decoder can emit them (byte-fallback tokens such as
    ``<0x0A>``), and a translation must stay on the line of its source.

    >>> one_line("two\\nlines\\r\\n")
    'two lines  '
    """
    return _LINE_BREAKS.sub(" ", text)


def _split_lines(source, max_line_bytes):
    """Yields the lines of the stream ``source`` (bytes or text) as they arrive, without
    their line ends, split as Python's universal newlines split them: at ``\\n``,
    ``\\r\\n`` and a lone ``\\r`` (a classic Mac OS file, which has no ``\\n`` at all).
    A line end at the end of the input adds no empty line.

    Raises:
        SystemExit: a line has more than ``max_line_bytes`` bytes (None: no limit); it is
            refused once that much of it was read, not after reading it whole.
    """
    empty = source.read(0)
    line_end = _LINE_ENDS[type(empty)]
    cr, lf = ("\r", "\n") if isinstance(empty, str) else (b"\r", b"\n")
    parts, size, number, after_cr = [], 0, 1, False
    # `readline` (not iteration, which reads ahead in blocks) hands on each line of a
    # terminal or pipe when it comes; a limit keeps one read bounded.
    for chunk in iter(lambda: source.readline(_READ_SIZE), empty):
        if after_cr and chunk.startswith(lf):
            chunk = chunk[1:]  # the "\n" of a "\r\n" that the previous read cut in two
        after_cr = False
        start = 0
        for match in line_end.finditer(chunk):
            piece = chunk[start : match.start()]
            _check_line_size(size + _size(piece), number, max_line_bytes)
            yield empty.join([*parts, piece])
            parts, size, number, start = [], 0, number + 1, match.end()
            after_cr = match.end() == len(chunk) and match.group() == cr
        if start < len(chunk):
            parts.append(chunk[start:])
            size += _size(chunk[start:])
            _check_line_size(size, number, max_line_bytes)
    if parts:
        yield empty.join(parts)


def _size(piece):
    """The UTF-8 bytes of ``piece`` (bytes, or text: lone surrogates counted as 3)."""
    return len(piece) if isinstance(piece, bytes) else len(piece.encode("utf-8", "surrogatepass"))


def _check_line_size(size, number, max_line_bytes):
    if max_line_bytes is not None and size > max_line_bytes:
        raise SystemExit(
            f"translate: line {number} of the input is longer than {max_line_bytes} bytes; "
            "raise --max_line_bytes (0: no limit) or split the line"
        )


def _input_lines(stdin, max_line_bytes=DEFAULT_MAX_LINE_BYTES):
    """Yields the lines of ``stdin`` as they arrive (decoded as UTF-8, a leading byte order
    mark dropped, as the readers of `keras_seq.datasets` do), without their line ends
    (``\\n``, ``\\r\\n`` or ``\\r``: `_split_lines`).

    Raises:
        SystemExit: a line is not valid UTF-8, or longer than ``max_line_bytes`` bytes
            (None: no limit); the message gives its number.
    """
    # Decode line by line from the bytes underneath, when there are any: a text stream
    # decodes in chunks, so its errors cannot name the line.
    source = getattr(stdin, "buffer", stdin)
    for number, line in enumerate(_split_lines(source, max_line_bytes), start=1):
        try:
            if isinstance(line, bytes):
                line = line.decode("utf-8")
            else:
                # Under surrogateescape (Python's UTF-8 mode) undecodable bytes arrive as
                # lone surrogates, which cannot become a tf.string: encoding finds them.
                line.encode("utf-8")
        except UnicodeError:
            raise SystemExit(f"translate: line {number} of the input is not valid UTF-8") from None
        if number == 1:
            line = line.removeprefix("\ufeff")  # written by Windows editors
        yield line


def _read_lines(stdin, max_line_bytes=DEFAULT_MAX_LINE_BYTES):
    """All the lines of `_input_lines`, as a list."""
    return list(_input_lines(stdin, max_line_bytes))


def _batches(lines, batch_size):
    """``(index of the first line, lines)`` for consecutive groups of ``batch_size`` lines."""
    batch, start = [], 0
    for line in lines:
        batch.append(line)
        if len(batch) == batch_size:
            yield start, batch
            start, batch = start + len(batch), []
    if batch:
        yield start, batch


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _utf8_writer(stdout):
    """A ``write(text)`` that writes UTF-8 to ``stdout`` whatever its encoding (the locale's,
    or ``PYTHONIOENCODING``): the input is read as UTF-8, so the output is written as UTF-8.
    A stream without bytes underneath (``io.StringIO``) is written as text."""
    buffer = getattr(stdout, "buffer", None)
    if buffer is None:
        return stdout.write
    stdout.flush()  # whatever the text layer holds goes first

    def write(text):
        buffer.write(text.encode("utf-8"))

    return write


def _load_error(error):
    """One line saying why `keras.saving.load_model` failed: Keras' own messages run over
    several lines and can hold a model's whole config (a class it cannot locate), so only the
    innermost exception is kept, without the config, its whitespace collapsed."""
    if isinstance(error, KeyError) and "config.json" in str(error):
        return "the zip archive holds no config.json: it is not a file that `model.save` wrote"
    message = str(error).rsplit("Exception encountered:", 1)[-1]
    message = message.split("Full object config:", 1)[0]
    message = " ".join(message.split()) or type(error).__name__
    return message if len(message) <= 500 else message[:499] + "…"


def _translate(args, stdin=None, stdout=None):
    """Translates stdin (each line as it is entered at a terminal, else in batches of
    ``--batch_size`` lines once the input is read; lines end at ``\\n``, ``\\r\\n`` or
    ``\\r``, as Python's universal newlines); one translation per line, or with
    ``--n_best`` N lines per input as ``index ||| translation`` (Moses n-best style). Line
    breaks inside a translation become spaces (`one_line`), so output line i is always the
    translation of input line i; the output is UTF-8.

    Raises:
        SystemExit: with a one-line message when ``--n_best`` exceeds ``--beam_size``, the
            model is missing, a directory, not a .keras (zip) file, cannot be loaded or is not
            a translator, stdin or stdout is closed, the input is not UTF-8 or has a line
            longer than ``--max_line_bytes``, or the output cannot be written (a full disk).
    """
    if args.n_best is not None and args.n_best > args.beam_size:
        raise SystemExit(
            f"translate: --n_best must be at most --beam_size ({args.beam_size}), got {args.n_best}"
        )
    if os.path.isdir(args.model):
        raise SystemExit(
            f"translate: --model {args.model} is a directory; give the .keras file (an export "
            "directory is served with `keras-seq serve`)"
        )
    if not os.path.exists(args.model):
        raise SystemExit(f"translate: --model {args.model}: no such file")
    if not os.path.isfile(args.model):
        # /dev/null, a pipe (`--model <(...)`): "no such file" was false, and Keras reads a
        # .keras archive by seeking in it.
        raise SystemExit(
            f"translate: --model {args.model} is not a regular file; give the .keras file"
        )
    if args.model.lower().endswith(".keras") and not zipfile.is_zipfile(args.model):
        # Keras would say "File not found" of a file that is there.
        if os.path.getsize(args.model) == 0:
            what = "empty"
        else:
            what = "not a zip archive (another format, or a copy cut short)"
        raise SystemExit(
            f"translate: cannot load --model {args.model}: the file is {what}; a .keras file "
            "is the zip archive that `model.save` writes"
        )
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    # Closed by the shell (`<&-`, `>&-`): Python sets them to None, and the first read or
    # write, once the model had loaded, failed with an AttributeError traceback.
    for stream, name, hint in ((stdin, "input", "< input.txt"), (stdout, "output", "> out.txt")):
        if stream is None:
            raise SystemExit(f"translate: the standard {name} is closed; give one ({hint})")

    import keras

    # The classes a saved translator's config and compile config name (importing them
    # registers them): not relying on keras_seq/__init__.py importing every subpackage.
    import keras_seq.losses  # noqa: F401
    import keras_seq.metrics  # noqa: F401
    import keras_seq.models  # noqa: F401

    try:
        model = keras.saving.load_model(args.model)
    except Exception as error:  # noqa: BLE001 - any failure to read the file is a user error
        raise SystemExit(
            f"translate: cannot load --model {args.model}: {_load_error(error)}"
        ) from None
    if not hasattr(model, "translate"):
        raise SystemExit(
            f"translate: {args.model} holds a {type(model).__name__}, not a translator"
        )
    write = _utf8_writer(stdout)
    # From a terminal each sentence is translated when its line is entered (it waited for
    # Ctrl-D before); a file or a pipe is read whole first (a line that is not UTF-8 stops
    # the command before any output), then translated --batch_size lines at a time.
    interactive = _is_terminal(stdin)
    max_line_bytes = args.max_line_bytes or None
    lines = (_input_lines if interactive else _read_lines)(stdin, max_line_bytes)
    for start, batch in _batches(lines, 1 if interactive else args.batch_size):
        try:
            translations = model.translate(
                batch,
                beam_size=args.beam_size,
                n_best=args.n_best,
                length_penalty=args.length_penalty,
                max_length=args.max_length,
                max_source_length=args.max_source_length,
            )
        except ValueError as error:  # e.g. a model saved without its tokenizers
            raise SystemExit(f"translate: {error}") from None
        except MemoryError as error:  # e.g. a huge --max_length
            raise SystemExit(str(error)) from None
        if args.n_best is None:
            text = "".join(one_line(translation) + "\n" for translation in translations)
        else:
            text = "".join(
                f"{start + offset} ||| {one_line(hypothesis)}\n"
                for offset, translation in enumerate(translations)
                for hypothesis in translation
            )
        try:
            write(text)
            stdout.flush()
        except BrokenPipeError:
            raise  # the reader went away: `main` ends quietly with status 141
        except OSError as error:  # a full disk (ENOSPC), a file size limit (EFBIG)...
            # It was a traceback; the output written so far stays, and the status says it
            # is incomplete. The data still buffered must not fail again at exit.
            _silence(stdout)
            reason = (error.strerror or str(error)).lower()
            raise SystemExit(f"translate: cannot write the output: {reason}") from None
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-seq", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve SavedModels over TF Serving's REST API")
    # One or the other: else a usage error (status 2) naming the flags.
    models = serve.add_mutually_exclusive_group(required=True)
    models.add_argument(
        "--model_base_path", type=_path, help="BASE with all-digit version directories"
    )
    models.add_argument(
        "--model_config_file", type=_path, help="text ModelServerConfig (models.config)"
    )
    serve.add_argument("--model_name", default="default", help="name in /v1/models/<name>")
    serve.add_argument("--rest_api_port", type=bounded_number(int, 0, 65535), default=8501)
    serve.add_argument(
        "--rest_api_host", default="127.0.0.1", help="interface to bind (loopback by default)"
    )
    serve.add_argument("--rest_api_num_threads", type=bounded_number(int, 1), default=4)
    serve.add_argument(
        "--max_queued_requests",
        type=bounded_number(int, 0),
        default=16,
        help="predictions waiting for a thread before new ones get 503",
    )
    # TF Serving's flags are int32 (so are these bounds): a larger timeout overflowed the
    # session's int64 RunOptions.timeout_in_ms (every prediction a 500), a larger poll wait
    # threading's TIMEOUT_MAX (the poller thread died with a traceback).
    serve.add_argument(
        "--rest_api_timeout_in_ms",
        type=bounded_number(int, 1, at_most=INT32_MAX),
        default=30000,
    )
    serve.add_argument(
        "--file_system_poll_wait_seconds",
        type=bounded_number(float, 0, exclusive_minimum=True, at_most=INT32_MAX),
        default=1.0,
    )
    serve.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=bounded_number(float, 0, at_most=INT32_MAX),
        default=0.0,
        help="re-read --model_config_file every N seconds and apply it; 0: read it once",
    )
    serve.add_argument(
        "--max_request_bytes",
        type=bounded_number(int, 1),
        default=16 * 1024 * 1024,
        help="larger request bodies are refused with 413",
    )
    serve.add_argument(
        "--max_batch_size",
        type=bounded_number(int, 0),
        default=1000,
        help="most rows (instances) per request, more get 400; 0: no limit",
    )
    serve.add_argument(
        "--max_string_bytes",
        type=bounded_number(int, 0),
        default=64 * 1024,
        help="most bytes per string value, longer get 400; 0: no limit",
    )
    serve.add_argument(
        "--enable_batching",
        nargs="?",
        const=True,
        default=False,
        type=_flag_bool,
        metavar="true|false",
        help="merge concurrent requests for a signature into one run of <= max_batch_size "
        "rows (--enable_batching or, as tensorflow_model_server, --enable_batching=true)",
    )
    serve.add_argument("--log_level", type=str.lower, choices=LOG_LEVELS, default="info")
    serve.set_defaults(run=_serve)

    check = commands.add_parser(
        "check-export", help="prove exports serve as TF Serving serves them (no Keras loaded)"
    )
    check.add_argument(
        "paths", nargs="+", type=_path, help="model base directories or version directories"
    )
    check.add_argument("--model_config_file", type=_path, help="a models.config to parse")
    check.add_argument(
        "--rtol",
        type=bounded_number(float, 0),
        help="relative tolerance on float outputs (1e-5; 1e-2 for bfloat16/float16 graphs)",
    )
    check.add_argument(
        "--atol",
        type=bounded_number(float, 0),
        help="absolute tolerance on float outputs (1e-6; 1e-2 for bfloat16/float16 graphs)",
    )
    check.add_argument(
        "--report_modules",
        action="store_true",
        help="print a JSON line saying which of keras/tf_keras/keras_seq/tensorflow are loaded",
    )
    check.set_defaults(run=_check_export)

    translate = commands.add_parser(
        "translate", help="translate stdin with a trained model (.keras), one sentence a line"
    )
    translate.add_argument(
        "--model",
        required=True,
        help="a .keras file of a Seq2Seq model (not an export directory: serve that one)",
    )
    # The model's own limits (int32 lengths and beam sizes, a float32 penalty), checked here:
    # past them the model refused the value only once loaded, naming its own argument.
    translate.add_argument(
        "--beam_size",
        type=bounded_number(int, 1, at_most=INT32_MAX),
        default=4,
        help="1 for greedy decoding",
    )
    translate.add_argument(
        "--n_best",
        type=bounded_number(int, 1, at_most=INT32_MAX),
        help="print this many translations per line (at most --beam_size)",
    )
    translate.add_argument(
        "--length_penalty",
        type=bounded_number(float, 0, at_most=FLOAT32_MAX),
        default=0.6,
        help="GNMT alpha (0: none)",
    )
    translate.add_argument(
        "--max_length",
        type=bounded_number(int, 1, at_most=INT32_MAX),
        default=100,
        help="most target tokens per translation",
    )
    translate.add_argument(
        "--max_source_length",
        type=bounded_number(int, 1, at_most=INT32_MAX),
        help="truncate longer sources",
    )
    translate.add_argument(
        "--batch_size", type=bounded_number(int, 1), default=32, help="input lines per decode"
    )
    translate.add_argument(
        "--max_line_bytes",
        type=bounded_number(int, 0),
        default=DEFAULT_MAX_LINE_BYTES,
        help="most UTF-8 bytes per input line; a longer line stops the command (status 1) "
        "before it is read whole; 0: no limit",
    )
    translate.set_defaults(run=_translate)
    return parser


def main(argv=None):
    """Runs the command of ``argv`` (default: ``sys.argv[1:]``) and returns its exit status.

    A reader that goes away (``keras-seq translate ... | head -1``) ends the command quietly
    with status 141, as SIGPIPE ends ``cat``; Ctrl-C ends it with status 130, without a
    traceback.
    """
    args = build_parser().parse_args(argv)
    _configure_logging()
    try:
        return args.run(args)
    except BrokenPipeError:
        _silence(sys.stdout)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _configure_logging():
    """INFO records of every logger on stderr, each once. TensorFlow's logger has its own
    handler and also passed its records to the root's: `keras-seq serve` printed every
    TensorFlow warning twice (``loader.load is deprecated``)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    tensorflow_logger = logging.getLogger("tensorflow")
    if tensorflow_logger.handlers:
        tensorflow_logger.propagate = False


def _silence(stream):
    """Points the file descriptor of ``stream`` (sys.stdout: 1), when it has one, at
    os.devnull, so that the flush at interpreter exit does not fail again on the closed pipe
    or full disk ("Exception ignored ... Broken pipe")."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an in-memory stream
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())

"""``keras-seq`` command line: ``serve`` (TF Serving-compatible REST), ``check-export`` and
``translate`` (a trained model over stdin → stdout).

Flags of ``serve`` keep TF Serving's names (``--model_base_path``, ``--model_name``,
``--rest_api_port``, ``--model_config_file``, ``--file_system_poll_wait_seconds``,
``--rest_api_num_threads``, ``--rest_api_timeout_in_ms``), so the same command line works
against ``tensorflow_model_server``; the local server's own limits (``--max_queued_requests``,
``--max_request_bytes``, ``--max_batch_size``, ``--max_string_bytes``) are documented in
docs/security.md.
"""

import argparse
import logging
import sys


def _serve(args):
    from keras_seq.serving import ModelServer, run_server

    if bool(args.model_config_file) == bool(args.model_base_path):
        raise SystemExit("serve: give either --model_config_file or --model_base_path")
    options = {"poll_interval": args.file_system_poll_wait_seconds}
    if args.model_config_file:
        model_server = ModelServer.from_config_file(args.model_config_file, **options)
    else:
        model_server = ModelServer.for_base_path(args.model_name, args.model_base_path, **options)
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

    result = check_export(
        args.paths, model_config_file=args.model_config_file, capture_output=False
    )
    return result.returncode


def _translate(args, stdin=None, stdout=None):
    """Translates stdin line by line in batches; one translation per line, or with ``--n_best``
    N lines per input as ``index ||| translation`` (Moses n-best style, best first)."""
    import keras

    import keras_seq  # noqa: F401  (registers the serializable classes)

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    model = keras.saving.load_model(args.model)
    if not hasattr(model, "translate"):
        raise SystemExit(
            f"translate: {args.model} holds a {type(model).__name__}, not a translator"
        )
    lines = [line.rstrip("\n") for line in stdin]
    for start in range(0, len(lines), args.batch_size):
        batch = lines[start : start + args.batch_size]
        translations = model.translate(
            batch,
            beam_size=args.beam_size,
            n_best=args.n_best,
            length_penalty=args.length_penalty,
            max_length=args.max_length,
            max_source_length=args.max_source_length,
        )
        for offset, translation in enumerate(translations):
            if args.n_best is None:
                stdout.write(translation + "\n")
            else:
                for hypothesis in translation:
                    stdout.write(f"{start + offset} ||| {hypothesis}\n")
        stdout.flush()
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-seq", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve SavedModels over TF Serving's REST API")
    serve.add_argument("--model_base_path", help="BASE with all-digit version directories")
    serve.add_argument("--model_name", default="default", help="name in /v1/models/<name>")
    serve.add_argument("--model_config_file", help="text ModelServerConfig (models.config)")
    serve.add_argument("--rest_api_port", type=int, default=8501)
    serve.add_argument(
        "--rest_api_host", default="127.0.0.1", help="interface to bind (loopback by default)"
    )
    serve.add_argument("--rest_api_num_threads", type=int, default=4)
    serve.add_argument(
        "--max_queued_requests",
        type=int,
        default=16,
        help="predictions waiting for a thread before new ones get 503",
    )
    serve.add_argument("--rest_api_timeout_in_ms", type=int, default=30000)
    serve.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0)
    serve.add_argument(
        "--max_request_bytes",
        type=int,
        default=16 * 1024 * 1024,
        help="larger request bodies are refused with 413",
    )
    serve.add_argument(
        "--max_batch_size",
        type=int,
        default=1000,
        help="most rows (instances) per request, more get 400; 0: no limit",
    )
    serve.add_argument(
        "--max_string_bytes",
        type=int,
        default=64 * 1024,
        help="most bytes per string value, longer get 400; 0: no limit",
    )
    serve.add_argument(
        "--enable_batching",
        action="store_true",
        help="merge concurrent requests for a signature into one run of <= max_batch_size rows",
    )
    serve.add_argument("--log_level", default="info")
    serve.set_defaults(run=_serve)

    check = commands.add_parser(
        "check-export", help="prove exports serve as TF Serving serves them (no Keras loaded)"
    )
    check.add_argument("paths", nargs="+", help="model base directories or version directories")
    check.add_argument("--model_config_file", help="a models.config to parse")
    check.set_defaults(run=_check_export)

    translate = commands.add_parser(
        "translate", help="translate stdin with a trained model (.keras), one sentence a line"
    )
    translate.add_argument("--model", required=True, help="a .keras file of a Seq2Seq model")
    translate.add_argument("--beam_size", type=int, default=4, help="1 for greedy decoding")
    translate.add_argument("--n_best", type=int, help="print this many translations per line")
    translate.add_argument("--length_penalty", type=float, default=0.6)
    translate.add_argument("--max_length", type=int, default=100)
    translate.add_argument("--max_source_length", type=int, help="truncate longer sources")
    translate.add_argument("--batch_size", type=int, default=32)
    translate.set_defaults(run=_translate)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

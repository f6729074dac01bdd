"""Runs the standalone export checker (standalone_checker.py) in a fresh Python process."""

import os
import subprocess
import sys

CHECKER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "standalone_checker.py")


def check_export(
    paths,
    model_config_file=None,
    report_modules=False,
    timeout=600,
    capture_output=True,
    rtol=None,
    atol=None,
):
    """Checks exported SavedModels the way TF Serving loads them, in a process without Keras.

    The check runs ``standalone_checker.py`` as a script with the current interpreter: a fresh
    process that imports only TensorFlow, tensorflow-text's kernels and the serving protos.

    Args:
        paths: str or list of str. Model base directories (``BASE/<name>``) or version dirs.
        model_config_file: optional str. A ``models.config`` to parse as ModelServerConfig.
        report_modules: bool. Also print which of keras/tf_keras/keras_seq/tensorflow the
            checker process had loaded (a ``modules: {...}`` JSON line).
        timeout: float or None. Seconds before the check is abandoned (None: no limit).
        capture_output: bool. Capture the report (``.stdout``) instead of printing it.
        rtol: optional float. Relative tolerance of the comparison of floating-point
            outputs with the recorded outputs (the checker's default when None: 1e-5, or
            1e-2 for a graph that computes in bfloat16/float16); strings, integers and
            booleans must be equal.
        atol: optional float. Absolute tolerance of that comparison (default 1e-6, or 1e-2
            for such a graph).

    Returns:
        ``subprocess.CompletedProcess``: ``returncode`` 0 when everything passes, the report
        in ``stdout``.

    Example:

    >>> result = check_export("/models/classifier")  # doctest: +SKIP
    >>> result.returncode  # doctest: +SKIP
    0
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    command = [sys.executable, CHECKER_PATH, *[os.fspath(p) for p in paths]]
    if model_config_file is not None:
        command += ["--model_config_file", os.fspath(model_config_file)]
    if report_modules:
        command.append("--report_modules")
    for flag, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None:
            command += [flag, repr(float(value))]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    return subprocess.run(
        command, capture_output=capture_output, text=True, timeout=timeout, env=env, check=False
    )

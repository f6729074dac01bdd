"""`keras-seq` probe round 10: ``check-export --model_config_file=`` (an unset ``$CONFIG``)
is refused instead of passing without a config checked; the CLI module alone parses ``--help``
and usage errors without TensorFlow (the console script still imports it, through
keras_seq/__init__.py)."""

import os
import subprocess
import sys

import pytest

from keras_seq import cli
from keras_seq.export import standalone_checker

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI_PATH = os.path.join(ROOT, "keras_seq", "cli.py")


@pytest.mark.parametrize("parse", [cli.build_parser().parse_args, standalone_checker.main])
def test_check_export_refuses_an_empty_model_config_file(parse, capsys):
    # It was skipped: "check-export: OK" with no config parsed.
    argv = ["check-export"] if parse is not standalone_checker.main else []
    with pytest.raises(SystemExit) as exit_info:
        parse([*argv, "/models/toy", "--model_config_file="])
    assert exit_info.value.code == 2
    assert "--model_config_file: expected a path, got ''" in capsys.readouterr().err


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


# cli.py loaded as a module of its own, as a console script outside the keras_seq package
# would load it: `--help` of every subcommand and a usage error, then which heavy modules
# were imported.
STANDALONE = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("keras_seq_cli_alone", {CLI_PATH!r})
cli = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli)
codes = []
for argv in (["--help"], ["serve", "--help"], ["check-export", "--help"],
             ["translate", "--help"], ["translate", "--beam_size=0", "--model", "m.keras"]):
    try:
        cli.main(argv)
    except SystemExit as exit:
        codes.append(exit.code)
heavy = sorted(m for m in ("tensorflow", "keras", "keras_seq", "numpy") if m in sys.modules)
print("RESULT", codes, heavy, file=sys.stderr)
"""


def test_the_cli_module_parses_help_and_usage_errors_without_tensorflow():
    run = _run(STANDALONE)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "RESULT [0, 0, 0, 0, 2] []" in run.stderr
    assert "keras-seq translate: error: argument --beam_size: expected an int >= 1" in run.stderr


def test_a_base_path_missing_here_is_noted_not_failed(tmp_path):
    # It passed without a word: TF Serving then logs "Could not find base path" and serves
    # nothing under that name, which a config written for a container may still intend.
    present = tmp_path / "present"
    present.mkdir()
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list {\n"
        f'  config {{ name: "here" base_path: "{present}" model_platform: "tensorflow" }}\n'
        f'  config {{ name: "gone" base_path: "{tmp_path / "gone"}" }}\n'
        "}\n"
    )
    problems, notes = standalone_checker.model_config_problems(str(config))
    assert problems == []
    assert len(notes) == 1
    assert f"model 'gone': base_path {tmp_path / 'gone'} is not a directory here" in notes[0]
    broken = tmp_path / "broken.config"
    broken.write_text("model_config_list { config { name: 'x' } }\n")
    problems, notes = standalone_checker.model_config_problems(str(broken))
    assert problems == [f"{broken}: every config needs a name and a base_path"] and notes == []

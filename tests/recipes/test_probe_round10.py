"""Recipe probe round 10: ``translate.py --plot-attention`` without matplotlib exits before
training (it failed with an ImportError once the model was trained and scored), and
``demo.py`` exports the next version instead of emptying ``<out>/models`` first."""

import os
import subprocess
import sys

import pytest

from tests.recipes.recipe_modules import ROOT, load_recipe


def test_plot_attention_without_matplotlib_exits_before_training(tmp_path, monkeypatch):
    translate = load_recipe("translate", "recipes_round10")
    pairs = [("Guten Morgen.", "Good morning."), ("Danke schön.", "Thank you.")] * 4
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["--quick", "--out", str(out), "--epochs", "1", "--steps-per-epoch", "1"]
    argv += ["--set", "vocabulary_size=300", "--set", "units=4", "--set", "embedding_dim=4"]
    argv += [f"--{split}-tsv={data}" for split in ("train", "dev", "test")]
    argv += ["--plot-attention", "1", "--beam-size", "1"]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not installed
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(SystemExit) as exit_info:
        translate.main(argv)
    assert str(exit_info.value) == (
        "--plot-attention needs matplotlib, the optional `plot` extra: "
        "pip install 'keras-seq[plot]' (or matplotlib>=3.8), or leave --plot-attention out"
    )
    assert not out.exists()  # nothing trained, nothing written


@pytest.mark.slow
def test_demo_keeps_what_out_models_already_holds(tmp_path):
    # The demo emptied <out>/models before exporting: `--out .` deleted ./models.
    out = tmp_path / "demo"
    mine = out / "models" / "mine" / "1"
    mine.mkdir(parents=True)
    (mine / "keep.txt").write_text("my export", encoding="utf-8")
    (out / "models" / "translator" / "3").mkdir(parents=True)  # an earlier demo's version
    argv = [sys.executable, os.path.join(ROOT, "recipes", "demo.py"), "--out", str(out)]
    argv += ["--epochs", "1", "--steps-per-epoch", "2", "--max-train-pairs", "200"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "demo OK" in run.stdout
    assert (mine / "keep.txt").read_text(encoding="utf-8") == "my export"
    assert sorted(os.listdir(out / "models" / "translator")) == ["3", "4"]
    assert (out / "models" / "translator" / "4" / "saved_model.pb").exists()
    assert f"exported and checked: {out / 'models' / 'translator' / '4'}" in run.stdout

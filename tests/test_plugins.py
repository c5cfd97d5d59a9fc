"""A user's own model joins the CLI: docs/leaderboard.md's "Adding a baseline" walkthrough, run as written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from gunshot_bench.cli import main
from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.models import registry
from gunshot_bench.results import load_results
from gunshot_bench.sim import synthesize_corpus

DOC = Path(__file__).resolve().parents[1] / "docs" / "leaderboard.md"


def _walkthrough_blocks() -> tuple[str, str]:
    """The model module and the entry TOML, exactly as the docs give them."""
    section = DOC.read_text().split("## Adding a baseline", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(python|toml)\n(.*?)```", re.sub(r"(?m)^   ", "", section), flags=re.S)
    python = next(code for lang, code in blocks if lang == "python")
    toml = next(code for lang, code in blocks if lang == "toml" and "name = " in code)
    return python, toml


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    synthesize_corpus("tiny", root / "corpus", seed=0, progress=False)
    build_dataset(BuildConfig(sources=(("sim", str(root / "corpus")),), out_dir=str(root / "data"), workers=1),
                  progress=False)
    return root / "data"


@pytest.fixture
def forget_plugin():
    """Remove what the test registers, so other tests see the package's own registry."""
    yield
    registry._REGISTRY.pop("mfcc_logreg", None)
    sys.modules.pop("mfcc_logreg", None)
    from gunshot_bench import plugins

    plugins._PLUGIN_DIRS.clear()


def test_unknown_before_the_plugin_and_on_the_board_after(tiny_data, tmp_path, capsys, forget_plugin):
    python, toml = _walkthrough_blocks()
    models = tmp_path / "my_models"
    models.mkdir()
    (models / "mfcc_logreg.py").write_text(python)
    (models / "mfcc_logreg.toml").write_text(toml)
    out = tmp_path / "board"
    assert main(["leaderboard", "--data", str(tiny_data), "--models", "mfcc_logreg", "--seeds", "1",
                 "--out", str(out)]) == 2
    assert "unknown leaderboard entry 'mfcc_logreg'" in capsys.readouterr().err
    assert main(["leaderboard", "--data", str(tiny_data), "--plugin", str(models / "mfcc_logreg.py"),
                 "--models", "mfcc_logreg", "--seeds", "1", "--out", str(out)]) == 0
    good, bad = load_results(out / "results")
    # the plugin's entry under both split protocols, beside the reference rows
    results = [r for _, r in good if r["kind"] == "leaderboard"]
    assert bad == [] and sorted((r["model"]["entry"], r["task"], r["protocol"]) for r in results) == [
        ("mfcc_logreg", "model", "grouped"), ("mfcc_logreg", "model", "segment")]
    assert 0.0 <= results[0]["aggregate"]["accuracy"]["mean"] <= 1.0
    assert results[0]["seeds"] == [0]
    md = (out / "LEADERBOARD.md").read_text()
    assert re.search(r"\| mfcc_logreg( †)? \|", md) and "mfcc_logreg" in (out / "index.html").read_text()
    # the trained run loads back through the registry (the docs' _save_state/_load_state contract)
    run_dirs = [p.parent for p in (out / "runs").rglob("model.json")]
    assert run_dirs
    from gunshot_bench.models import load_model

    assert load_model(run_dirs[0]).registered_name == "mfcc_logreg"


def test_entry_point_group_registers_an_installed_model(tmp_path, monkeypatch, forget_plugin):
    python, _ = _walkthrough_blocks()
    site = tmp_path / "site"
    (site / "my_models").mkdir(parents=True)
    (site / "my_models" / "__init__.py").write_text("")
    (site / "my_models" / "mfcc_logreg.py").write_text(python)
    dist = site / "my_models-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-models\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[gunshot_bench.models]\nmfcc_logreg = my_models.mfcc_logreg\n")
    monkeypatch.syspath_prepend(str(site))
    from gunshot_bench import plugins

    monkeypatch.setattr(plugins, "_ENTRY_POINTS_LOADED", False)
    assert "mfcc_logreg" in registry.available()
    assert registry.get("mfcc_logreg", n_mfcc=13).n_mfcc == 13
    sys.modules.pop("my_models.mfcc_logreg", None)
    sys.modules.pop("my_models", None)


def test_missing_plugin_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--model", "x", "--out", str(tmp_path / "o"),
                 "--plugin", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.py: no such file" in err

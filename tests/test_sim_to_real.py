"""benchmarks/sim_to_real.py on a tiny generated collection (never the shipped reference audio)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from test_train import fake_data  # noqa: F401  (the fixture)

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "sim_to_real.py"


@pytest.fixture(scope="module")
def sim_to_real():
    spec = importlib.util.spec_from_file_location("sim_to_real", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scores_runs_on_a_collection_with_argmax_and_threshold(sim_to_real, fake_data, folder_corpus, tmp_path, capsys):
    from gunshot_bench.train import train_run

    train_run(fake_data["dir"], "svm", "detection", 0, tmp_path / "det", {"decision": {"target_false_alarm_rate": 0.25}},
              progress=False)
    train_run(fake_data["dir"], "lda", "model", 0, tmp_path / "mod", progress=False)
    out = tmp_path / "out"
    code = sim_to_real.main(["--run", str(tmp_path / "det"), "--source", f"folder={folder_corpus}", "--out", str(out)])
    assert code == 0
    rows = json.loads((out / "sim_to_real.json").read_text())
    assert [r["decision"].split()[0] for r in rows] == ["argmax", "threshold"]
    threshold = json.loads((tmp_path / "det" / "config.json").read_text())["decision"]["threshold"]
    for row in rows:
        seg = row["segments"]
        # 3 models x takes of 2.5/3.5/4.5/5.5 s (1+1+2+2 segments), 3 shotgun clips of 2.2 s, 3 crowd files of 4.5 s
        assert row["n_segments"] == len(seg) == 3 * 6 + 3 + 3 * 2
        y = np.array([s["y_true"] == "gunshot" for s in seg])
        assert y.any() and (~y).any()
        pred = np.array([s["y_pred"] == "gunshot" for s in seg])
        if row["decision"] != "argmax":
            np.testing.assert_array_equal(pred, np.array([s["gunshot_score"] for s in seg]) >= threshold)
        assert row["metrics"]["recall"] == pytest.approx(pred[y].mean())
        assert row["metrics"]["accuracy"] == pytest.approx((pred == y).mean())
    table = (out / "sim_to_real.md").read_text()
    assert table in capsys.readouterr().out and table.count("\n") == 4
    # a model-level run scored on categories
    assert sim_to_real.main(["--run", str(tmp_path / "mod"), "--source", f"folder={folder_corpus}",
                             "--task", "category", "--out", str(out)]) == 0
    (row,) = json.loads((out / "sim_to_real.json").read_text())
    assert row["task"] == "category" and {s["y_true"] for s in row["segments"]} <= {"pistol", "rifle", "submachine_gun", "shotgun"}
    # a bad source is one line on stderr, exit code 2
    assert sim_to_real.main(["--run", str(tmp_path / "det"), "--source", "folder"]) == 2
    assert "KIND=PATH" in capsys.readouterr().err

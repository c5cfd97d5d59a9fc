"""The main job end to end on the tiny preset, the leaderboard/robustness/evaluate commands, resuming."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from gunshot_bench.cli import main
from gunshot_bench.evaluation.entries import resolve_entries
from gunshot_bench.evaluation.jobs import Failure
from gunshot_bench.pipeline import MainJobConfig, run_main, summary_text
from gunshot_bench.results import load_results
from gunshot_bench.rng import derive_rng

torch.set_num_threads(1)
MODELS = ("svm", "cnn", "audioresnet_two_stage")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_job(tmp_path_factory):
    """The main job on the tiny preset: three entries, one seed, one epoch."""
    out = tmp_path_factory.mktemp("main_job")
    config = MainJobConfig(preset="tiny", out_dir=str(out), seeds=1, models=MODELS,
                           train_overrides={"max_epochs": 1}, progress=False)
    return config, run_main(config)


def _results(board):
    good, bad = load_results(board / "results")
    assert bad == []
    return [r for _, r in good]


@pytest.mark.slow
def test_main_job_tiny_end_to_end(tiny_job):
    config, job = tiny_job
    board = config.board
    results = _results(board)
    pairs = {(r["kind"], r["model"]["entry"], r["task"]) for r in results}
    # every entry on every task of its baseline file, and the robustness and study B results
    for entry in resolve_entries(list(MODELS), "small"):
        for task in entry["tasks"]:
            assert ("leaderboard", entry["name"], task) in pairs
    assert {("robustness", f"study_b_model{k}", "detection") for k in (1, 2, 3)} <= pairs
    assert any(k == "robustness" and t == "model" for k, _, t in pairs)
    for r in results:
        assert r["dataset"]["preset"] == "tiny" and r["seeds"] == [0]
        assert r["dataset"]["fingerprint"] == json.loads((job.data_dir / "manifest.json").read_text())["fingerprint"]
    # the two-stage model and the flat models share the 32-class table
    md = job.rendered.markdown.read_text()
    model_table = md.split("### Firearm model (32 classes)")[1].split("###")[0]
    assert re.search(r"\| audioresnet_two_stage( †)? \|", model_table) and re.search(r"\| svm( †)? \|", model_table)
    # the reference rows, both protocols and the simulated-data banner (issue 11)
    assert "| ref | majority (reference) |" in model_table and "inflation (points)" in model_table
    assert "Simulated data: the results in every section" in md and 'class="banner"' in job.rendered.html.read_text()
    assert "### Detection (gunshot vs. background)" in md and "score by test_set" in md
    assert "score by snr_db" in md and "score by target_lufs" in md  # noise reaches every split of tiny
    # the page links only plots that exist
    html = job.rendered.html.read_text()
    srcs = set(re.findall(r'src="([^"]+)"', html))
    assert any("robustness-" in s for s in srcs) and any("scores__" in s for s in srcs)
    assert all((board / s).read_bytes().startswith(PNG_MAGIC) for s in srcs)
    assert any(p.name.startswith("curves__") for p in job.rendered.plots)
    text = summary_text(job)
    assert str(job.rendered.html) in text and re.search(r"\| svm( †)? \|", text)


@pytest.mark.slow
def test_main_job_resumes_without_retraining(tiny_job):
    config, job = tiny_job
    results_dir = config.board / "results"
    victim = next(results_dir.rglob("svm__model__clean.json"))
    victim.unlink()
    run_configs = sorted(config.out.glob("runs/**/config.json"))
    stamps = {p: p.stat().st_mtime_ns for p in run_configs}
    again = run_main(config)
    assert victim.is_file()  # the missing result was written again ...
    assert {p: p.stat().st_mtime_ns for p in run_configs} == stamps  # ... from the runs already trained
    assert again.timings_s["total"] < job.timings_s["total"]


@pytest.mark.slow
def test_leaderboard_and_robustness_commands_on_tiny(tiny_job, tmp_path, capsys):
    config, job = tiny_job
    out = tmp_path / "board"
    assert main(["leaderboard", "--data", str(job.data_dir), "--models", "svm", "--seeds", "2",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # svm on 2 tasks x 2 protocols, 3 references on 2 tasks x 2 protocols, the oracle on model x 2 protocols
    assert re.search(r"\| svm( †)? \|", printed) and "18 results written" in printed
    assert main(["robustness", "--data", str(job.data_dir), "--models", "svm", "--seeds", "2",
                 "--out", str(out), "--no-study-b"]) == 0
    results = _results(out)
    assert {r["seeds"][-1] for r in results} == {1}
    robust = [r for r in results if r["kind"] == "robustness"]
    assert robust and all(r["breakdown"]["levels"] for r in robust)
    gains = next(r for r in robust if r["breakdown"]["by"] == "gain_db" and r["task"] == "model")
    assert [lv["value"] for lv in gains["breakdown"]["levels"]] == [-30, -20, -10, 0, 6]
    assert 0.0 <= gains["breakdown"]["area"]["accuracy"] <= 1.0
    md = (out / "LEADERBOARD.md").read_text()
    assert "| model | trained on | clean test | -30 dB | -20 dB | -10 dB | 0 dB | 6 dB | area (accuracy) |" in md
    assert (out / "index.html").is_file() and list((out / "plots").rglob("robustness-*.png"))


def test_unknown_model_name_is_a_clear_error(tmp_path, capsys):
    code = main(["leaderboard", "--data", str(tmp_path), "--models", "svn,cnn", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown leaderboard entry 'svn' (did you mean svm" in err and "available:" in err


def _tone_burst(key, gunshot: bool) -> np.ndarray:
    rng = derive_rng(0, "evaluate_folder", key)
    n = int(44_100 * 4.5)
    x = rng.standard_normal(n).astype(np.float32) * 0.01
    if gunshot:  # impulses with decaying tails
        for t in (0.3, 2.4):
            i = int(t * 44_100)
            tail = np.exp(-np.arange(8000) / 600.0)
            x[i:i + 8000] += (rng.standard_normal(8000) * tail * 0.6).astype(np.float32)
    return x


@pytest.mark.slow
def test_evaluate_command_on_a_folder(tiny_job, tmp_path, capsys):
    config, job = tiny_job
    folder = tmp_path / "mine"
    for k in range(3):
        for label, shot in (("gunshot", True), ("background", False)):
            (folder / label).mkdir(parents=True, exist_ok=True)
            sf.write(folder / label / f"take{k}.wav", _tone_burst((label, k), shot), 44_100)
    (folder / "notes.txt").write_text("not audio")
    run_dir = next(config.out.glob("runs/svm/detection/seed0"))
    out = tmp_path / "result.json"
    assert main(["evaluate", str(run_dir), "--source", f"folder={folder}", "--task", "detection",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["kind"] == "evaluate" and result["n_test"] == 12  # 6 files x two 2 s segments
    support = {k: v["support"] for k, v in result["per_seed"][0]["per_class"].items()}
    assert support == {"non_gunshot": 6, "gunshot": 6}
    assert "notes.txt" in result["notes"] or "1 files" in result["notes"]
    assert "balanced acc." in capsys.readouterr().out


def test_run_command_maps_flags_onto_the_job_config(monkeypatch, capsys):
    import gunshot_bench.pipeline as pipeline

    seen = {}
    job_result = SimpleNamespace(failed=[])
    monkeypatch.setattr(pipeline, "run_main", lambda config: (seen.setdefault("config", config), job_result)[1])
    monkeypatch.setattr(pipeline, "summary_text", lambda result: "SUMMARY")
    assert main(["run", "--preset", "tiny", "--out", "somewhere", "--seeds", "2", "--models", "svm,cnn",
                 "--no-robustness"]) == 0
    config = seen["config"]
    assert (config.preset, config.seeds, config.models, config.robustness) == ("tiny", 2, "svm,cnn", False)
    assert str(config.board) == "somewhere/leaderboard" and config.baseline_profile == "small"
    assert MainJobConfig(preset="paper").baseline_profile is None
    assert str(MainJobConfig().out) == "runs/small"  # the README's first command writes under runs/
    assert "SUMMARY" in capsys.readouterr().out
    # a part that failed (e.g. a training whose worker died) makes the exit code non-zero
    job_result.failed = [Failure("svm/model", "seed0: worker died (signal 9, SIGKILL; likely out of memory)")]
    assert main(["run", "--preset", "tiny", "--out", "somewhere"]) == 1
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        MainJobConfig(preset="huge")


def test_run_with_ray_builds_on_the_engines_ray(monkeypatch, tmp_path):
    """`run --engine ray` hands the engine to the build step too, on the Ray the engine owns."""
    import gunshot_bench.pipeline as pipeline

    events = []

    class FakeEngine:
        def connect(self):
            events.append("connect")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            events.append("close")

    class Stop(Exception):
        pass

    def fake_build(config, progress=True):
        events.append(("build", config.engine, config.ray_address))
        raise Stop

    monkeypatch.setattr(pipeline, "make_engine", lambda name, ray_address=None: FakeEngine())
    monkeypatch.setattr(pipeline, "synthesize_corpus", lambda preset, root, **k: root.mkdir(parents=True, exist_ok=True))
    monkeypatch.setattr(pipeline, "build_dataset", fake_build)
    with pytest.raises(Stop):
        run_main(MainJobConfig(preset="tiny", out_dir=str(tmp_path), engine="ray", ray_address="auto",
                               progress=False))
    assert events == ["connect", ("build", "ray", "auto"), "close"]
    events.clear()
    with pytest.raises(Stop):
        run_main(MainJobConfig(preset="tiny", out_dir=str(tmp_path), progress=False))
    assert events == [("build", "local", ""), "close"]


@pytest.mark.parametrize("preset, robustness_seeds", [("small", 1), ("paper", 3)])
def test_main_job_caps_robustness_seeds_on_small(monkeypatch, tmp_path, preset, robustness_seeds):
    from types import SimpleNamespace

    from gunshot_bench import pipeline

    calls = {}
    monkeypatch.setattr(pipeline, "build_corpus_dataset", lambda config: tmp_path / "data")
    monkeypatch.setattr(pipeline, "run_leaderboard",
                        lambda data, **kw: calls.setdefault("leaderboard", kw) and SimpleNamespace(failed=[]))
    monkeypatch.setattr(pipeline, "run_robustness",
                        lambda data, **kw: calls.setdefault("robustness", kw) and SimpleNamespace(failed=[]))
    (tmp_path / "board.md").write_text("table")
    monkeypatch.setattr(pipeline, "render_leaderboard",
                        lambda results, board: SimpleNamespace(markdown=tmp_path / "board.md"))
    run_main(MainJobConfig(preset=preset, out_dir=str(tmp_path / "out"), seeds=3, progress=False))
    assert calls["leaderboard"]["seeds"] == 3
    assert calls["robustness"]["seeds"] == robustness_seeds

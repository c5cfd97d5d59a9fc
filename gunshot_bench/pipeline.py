"""The main job (`gunshot-bench run`): corpus -> dataset -> leaderboard -> robustness -> page.

1. synthesise the embedded corpus of a preset (`sim.synthesize_corpus`; reused when complete);
2. build the dataset with every variant (`dataset.build`; reused when the same build exists);
3. train and score every baseline entry over several seeds (`protocols.leaderboard`);
4. score every run level by level on the variants and run study B (`protocols.robustness`);
5. render `LEADERBOARD.md`, `index.html` and the plots, and say where they are.

Trainings and scorings run on an engine (`evaluation.engine`): the local process pool by
default, or Ray (`engine="ray"`), with identical results. Every step resumes: rerunning after an interruption redoes only what is missing. The
`tiny` and `small` presets train with the baselines' `small` profile (fewer epochs, narrower
networks) so that `small` finishes in minutes on two CPU cores; `paper` uses the full settings.

Example:
    >>> result = run_main(MainJobConfig(preset="tiny", out_dir="runs/tiny"))  # doctest: +SKIP
    >>> print(result.leaderboard_md)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from gunshot_bench.dataset.build import BuildConfig, build_dataset
from gunshot_bench.errors import UserError
from gunshot_bench.evaluation.engine import ENGINES, make_engine
from gunshot_bench.leaderboard.render import Rendered, _md_table, render_leaderboard
from gunshot_bench.protocols.leaderboard import run_leaderboard
from gunshot_bench.protocols.robustness import run_robustness
from gunshot_bench.sim import synthesize_corpus
from gunshot_bench.variants import ALL

log = logging.getLogger(__name__)
PRESET_PROFILES = {"tiny": "small", "small": "small", "paper": None}
#: Test clips scored per robustness level (None: all), chosen to keep `small` within minutes
#: and `paper` (569 test clips, 17 noise and loudness levels, 7 models x 3 seeds) near an hour.
PRESET_ROBUSTNESS_CLIPS = {"tiny": None, "small": 30, "paper": 300}
#: Seeds of the `segment` split protocol (None: as many as the grouped protocol). One on
#: `small` keeps the main job within its 10-minute budget (docs/leaderboard.md).
PRESET_SEGMENT_SEEDS = {"tiny": 1, "small": 1, "paper": None}
#: At most this many seeds for the robustness evaluation and study B (None: as the leaderboard).
#: One on `small`: its curves and study B's models come from seed 0, which keeps the main job
#: within its 10-minute budget (docs/leaderboard.md); `paper` scores every seed.
PRESET_ROBUSTNESS_SEEDS = {"tiny": None, "small": 1, "paper": None}


@dataclass(frozen=True)
class MainJobConfig:
    """Settings of the main job; the CLI flags map onto these fields.

    Attributes:
        preset: simulator preset ("tiny", "small", "paper").
        out_dir: where the corpus, dataset and runs go (default `runs/<preset>`).
        leaderboard_dir: where results, LEADERBOARD.md, index.html and plots go
            (default `<out_dir>/leaderboard`).
        seed: seed of the corpus, the dataset build and its variants.
        seeds: training seeds per leaderboard entry.
        models: "all" or entry names of `baselines/`.
        profile: baseline profile (default: "small" for tiny/small, none for paper).
        train_overrides: settings laid over every entry (e.g. {"max_epochs": 1} for tests).
        robustness: run the robustness evaluation and study B.
        overwrite: retrain and rescore everything.
        engine: "local" (a process pool, the default) or "ray".
        ray_address: the Ray cluster to join (default `RAY_ADDRESS`; none: a local Ray).
    """

    preset: str = "small"
    out_dir: str | None = None
    leaderboard_dir: str | None = None
    seed: int = 0
    seeds: int = 3
    models: str | tuple[str, ...] = "all"
    profile: str | None = "auto"
    train_overrides: dict | None = None
    robustness: bool = True
    overwrite: bool = False
    progress: bool = True
    engine: str = "local"
    ray_address: str | None = None

    def __post_init__(self):
        if self.preset not in PRESET_PROFILES:
            raise UserError(f"unknown preset '{self.preset}'; known presets: {', '.join(PRESET_PROFILES)}")
        if self.seeds < 1:
            raise UserError(f"seeds must be at least 1, got {self.seeds}")
        if self.engine not in ENGINES:
            raise UserError(f"unknown engine '{self.engine}'; choose from {', '.join(ENGINES)}")

    @property
    def out(self) -> Path:
        return Path(self.out_dir) if self.out_dir else Path("runs") / self.preset

    @property
    def board(self) -> Path:
        return Path(self.leaderboard_dir) if self.leaderboard_dir else self.out / "leaderboard"

    @property
    def baseline_profile(self) -> str | None:
        return PRESET_PROFILES[self.preset] if self.profile == "auto" else self.profile


@dataclass
class MainJobResult:
    """Where everything went, how long each step took, and the leaderboard's text."""

    data_dir: Path
    leaderboard_dir: Path
    rendered: Rendered
    timings_s: dict[str, float] = field(default_factory=dict)
    failed: list = field(default_factory=list)  # evaluation.jobs.Failure
    leaderboard_md: str = ""


def build_corpus_dataset(config: MainJobConfig) -> Path:
    """Steps 1 and 2: the simulated corpus and the dataset with all variants (reused if present)."""
    corpus, data = config.out / "corpus", config.out / "data"
    synthesize_corpus(config.preset, corpus, seed=config.seed, progress=config.progress)
    # the engine decodes too (the build's parameters, hence its reuse, do not depend on it)
    build = BuildConfig(sources=(("sim", str(corpus)),), out_dir=str(data), seed=config.seed, variants=tuple(ALL),
                        overwrite=True, engine=config.engine, ray_address=config.ray_address or "")
    manifest = data / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("parameters") == build.parameters():
        log.info("reusing the dataset in %s (same build parameters)", data)
    else:
        build_dataset(build, progress=config.progress)
    return data


def run_main(config: MainJobConfig = MainJobConfig()) -> MainJobResult:
    """Run the main job; see the module docstring."""
    timings, start = {}, time.perf_counter()
    with make_engine(config.engine, ray_address=config.ray_address) as engine:
        if config.engine == "ray":
            engine.connect()  # the build's Ray tasks then run on the Ray this engine owns (and shuts down)
        data = build_corpus_dataset(config)
        timings["corpus and dataset"] = time.perf_counter() - start
        common = dict(models=list(config.models) if not isinstance(config.models, str) else config.models,
                      seeds=config.seeds, out_dir=config.board, overwrite=config.overwrite,
                      profile=config.baseline_profile, preset=config.preset, runs_dir=config.out / "runs",
                      train_overrides=config.train_overrides, progress=config.progress, render=False, engine=engine)
        t = time.perf_counter()
        board = run_leaderboard(data, **common, segment_seeds=PRESET_SEGMENT_SEEDS[config.preset])
        timings["leaderboard"] = time.perf_counter() - t
        failed = list(board.failed)
        if config.robustness:
            t = time.perf_counter()
            # robustness trains the grouped runs again: not those whose training just failed
            skip = frozenset((f.entry, f.task) for f in board.failed if f.entry and f.protocol == "grouped")
            cap = PRESET_ROBUSTNESS_SEEDS[config.preset]
            robust = run_robustness(data, **{**common, "seeds": min(config.seeds, cap or config.seeds)},
                                    max_clips_per_level=PRESET_ROBUSTNESS_CLIPS[config.preset], skip=skip)
            timings["robustness"] = time.perf_counter() - t
            failed += robust.failed
    t = time.perf_counter()
    rendered = render_leaderboard(config.board / "results", config.board)
    timings["render"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    return MainJobResult(data, config.board, rendered, timings, failed, rendered.markdown.read_text())


def summary_text(result: MainJobResult) -> str:
    """What the CLI prints at the end: where things are, the timings and the leaderboard tables."""
    r = result.rendered
    lines = ["", "gunshot-bench: main job finished in " + _minutes(result.timings_s.get("total", 0.0)), ""]
    lines += [f"  dataset:      {result.data_dir}",
              f"  leaderboard:  {r.markdown}",
              f"  page:         {r.html}  (open it in a browser)",
              f"  plots:        {result.leaderboard_dir / 'plots'}  ({len(r.plots)} PNG files)",
              f"  results:      {result.leaderboard_dir / 'results'}", ""]
    lines += ["  time per step: " + ", ".join(f"{k} {_minutes(v)}" for k, v in result.timings_s.items() if k != "total")]
    for section in r.sections:
        lines += ["", f"== {section.title} =="]
        for table in section.tables:
            lines += ["", table.title, *_md_table(table)]
    if result.failed:
        lines += ["", f"{len(result.failed)} part(s) could not run on this data:"] + [f"  - {f}" for f in result.failed]
    if r.bad:
        lines += ["", "result files left out:"] + [f"  - {b}" for b in r.bad]
    return "\n".join(lines) + "\n"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

"""`gunshot-bench synth`: write the embedded simulated corpus (a thin call into `gunshot_bench.sim`)."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    from gunshot_bench.sim.presets import PRESETS

    p = sub.add_parser("synth", help="generate the simulated gunshot and background corpus",
                       description="Synthesise gunshots of the 32 models and background scenes from physics and a "
                                   "seed, in the folder layout (OUT/<category>/<model>/..., OUT/_background/<kind>/...) "
                                   "with OUT/metadata.csv. Same preset and seed give byte-identical files. "
                                   "See docs/simulator.md for what is (and is not) simulated.")
    p.add_argument("--preset", required=True, choices=sorted(PRESETS),
                   help="tiny (tests, seconds), small (main job), paper (study A's 3,343 segments)")
    p.add_argument("--out", required=True, help="output folder (must be empty, new, or this preset+seed's corpus)")
    p.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: 2 or the core count if fewer)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.epilog = ("Measured on 2 shared cores (docs/performance.md, main job): corpus and dataset build together "
                "took 1.8 min for small and 2.3 min for paper.")
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.sim import synthesize_corpus

    s = synthesize_corpus(args.preset, Path(args.out), seed=args.seed, progress=not args.no_progress,
                          workers=args.workers)
    state = "already complete, reused" if s.reused else f"written in {s.elapsed_s:.1f} s"
    print(f"synth {s.preset} (seed {s.seed}) -> {s.out_dir}: {s.n_gunshot_recordings} gunshot recordings "
          f"({s.n_gunshot_segments} segments of 2 s over {len(s.segments_per_model)} models), "
          f"{s.n_background_recordings} background recordings ({s.n_background_segments} segments); {state}")
    return 0

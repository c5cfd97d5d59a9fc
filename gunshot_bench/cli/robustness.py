"""`gunshot-bench robustness`: score every model level by level on the variants, and study B."""

from __future__ import annotations

from gunshot_bench.cli import add_engine_options, add_plugin_option
from gunshot_bench.cli.leaderboard import add_entry_options, report, verify_unless_told


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "robustness", help="score-vs-SNR and score-vs-loudness curves, and study B's three detectors",
        description="Score each entry's runs on the clean test split and on the crowd_noise and energy "
                    "test rows at every SNR and loudness level (curves and their area), and compare study "
                    "B's three detection models on the clean, crowd-noise and energy test sets. Runs are "
                    "shared with `gunshot-bench leaderboard` (missing ones are trained first).")
    p.add_argument("--data", required=True, help="built dataset folder (with the crowd_noise, energy and detection configs)")
    p.epilog = ("Measured on 2 shared cores (docs/performance.md): 18.6 min on the small preset's dataset, "
                "58.9 min on paper's, every entry x 3 seeds with study B.")
    add_entry_options(p)
    p.add_argument("--no-study-b", action="store_true", help="skip study B's fine-tuned detectors")
    add_engine_options(p)
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.evaluation.engine import make_engine
    from gunshot_bench.protocols.robustness import run_robustness

    verify_unless_told(args)
    with make_engine(args.engine, ray_address=args.ray_address) as engine:
        result = run_robustness(args.data, args.models, args.seeds, args.out, args.overwrite, profile=args.profile,
                                study_b=not args.no_study_b, progress=not args.no_progress, engine=engine)
    print(f"{len(result.written)} robustness results written, {len(result.skipped)} kept from earlier runs")
    for failure in result.failed:
        print(f"not scored: {failure}")
    print(report(result.rendered))
    return 1 if result.failed else 0  # each part that failed is printed above

"""`gunshot-bench run`: the main job, from the embedded corpus to the leaderboard page."""

from __future__ import annotations

from gunshot_bench.cli import add_engine_options


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="the main job: corpus, dataset, leaderboard, robustness, page",
        description="Generate the embedded simulated corpus, build the dataset with every variant, train and "
                    "score every baseline over several seeds, run the robustness evaluation and study B, and "
                    "render LEADERBOARD.md, index.html and the plots. Resumes where an interrupted run stopped.")
    p.add_argument("--preset", default="small", choices=["tiny", "small", "paper"],
                   help="corpus size: tiny (for tests), small (default; measured 9.9 min on 2 quiet cores, "
                        "~4 min more with the aiSFX entries) or paper (study A's size: hours; "
                        "see docs/performance.md")
    p.add_argument("--out", default=None, help="working folder for corpus, dataset and runs (default runs/<preset>)")
    p.add_argument("--leaderboard", default=None, help="leaderboard folder (default OUT/leaderboard)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per entry (default 3)")
    p.add_argument("--models", default="all", help="'all' or entry names, comma-separated (see gunshot_bench/baselines/)")
    p.add_argument("--seed", type=int, default=0, help="seed of the corpus and the dataset build")
    p.add_argument("--no-robustness", action="store_true", help="skip the robustness evaluation and study B")
    p.add_argument("--overwrite", action="store_true", help="retrain and rescore everything")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.pipeline import MainJobConfig, run_main, summary_text

    config = MainJobConfig(preset=args.preset, out_dir=args.out, leaderboard_dir=args.leaderboard,
                           seed=args.seed, seeds=args.seeds, models=args.models,
                           robustness=not args.no_robustness, overwrite=args.overwrite,
                           progress=not args.no_progress, engine=args.engine, ray_address=args.ray_address)
    result = run_main(config)
    print(summary_text(result))
    return 1 if result.failed else 0  # the summary names each part that failed

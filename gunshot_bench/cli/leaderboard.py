"""`gunshot-bench leaderboard`: train and score every baseline entry, render the leaderboard."""

from __future__ import annotations

from pathlib import Path

from gunshot_bench.cli import UserError, add_engine_options, add_plugin_option, positive_int


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "leaderboard", help="train and score the baselines, render LEADERBOARD.md, index.html and plots",
        description="Train and score each entry of gunshot_bench/baselines/ on each of its tasks (one result JSON per "
                    "entry, task and dataset config; existing results are kept unless --overwrite), then "
                    "render LEADERBOARD.md, a static index.html and PNG plots from every result under OUT/results. "
                    "Measured on 2 quiet cores (docs/performance.md): every entry x 3 seeds took 5.3 min on "
                    "the small preset's dataset (without the aiSFX entries); on paper's, the torch entries "
                    "alone take hours (study A's 60-epoch protocol).")
    p.add_argument("--data", help="built dataset folder (not needed with --render-only)")
    add_entry_options(p)
    p.add_argument("--render-only", action="store_true", help="only render OUT/results into the page and plots")
    p.add_argument("--protocols", default="grouped,segment",
                   help="split protocols, comma-separated: grouped (leak-free) and/or segment (study A's "
                        "random split of segments); default both")
    p.add_argument("--segment-seeds", type=int, default=None,
                   help="seeds of the segment protocol (default: --seeds)")
    p.add_argument("--tasks", default=None, help="only these tasks of each entry, comma-separated")
    add_engine_options(p)
    add_plugin_option(p)
    p.set_defaults(func=run)


def add_entry_options(p) -> None:
    """Which entries, seeds, profile and output folder: shared with `gunshot-bench robustness`."""
    p.add_argument("--models", default="all", help="'all' or entry names, comma-separated (see gunshot_bench/baselines/)")
    p.add_argument("--seeds", type=positive_int, default=3, help="training seeds per entry (default 3)")
    p.add_argument("--out", default="leaderboard", help="leaderboard folder (default: leaderboard/)")
    p.add_argument("--profile", default=None, help="baseline profile, e.g. 'small' for a small dataset")
    p.add_argument("--overwrite", action="store_true", help="retrain and rescore existing runs and results")
    p.add_argument("--no-verify", action="store_true", help="skip checking the dataset's shards against its manifest")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    from gunshot_bench.dataset.split import PROTOCOLS
    from gunshot_bench.evaluation.engine import make_engine
    from gunshot_bench.leaderboard import render_leaderboard
    from gunshot_bench.protocols.leaderboard import run_leaderboard

    out = Path(args.out)
    failed = []
    if args.render_only:
        rendered = render_leaderboard(out / "results", out)
    else:
        if not args.data:
            raise UserError("--data DIR is required (or pass --render-only)")
        protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
        tasks = None if args.tasks is None else [t.strip() for t in args.tasks.split(",") if t.strip()]
        unknown = [p for p in protocols if p not in PROTOCOLS]
        if unknown or not protocols:
            raise UserError(f"--protocols: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(PROTOCOLS)}")
        verify_unless_told(args)
        with make_engine(args.engine, ray_address=args.ray_address) as engine:
            result = run_leaderboard(args.data, args.models, args.seeds, out, args.overwrite, profile=args.profile,
                                     protocols=protocols, segment_seeds=args.segment_seeds, tasks=tasks,
                                     progress=not args.no_progress, engine=engine)
        rendered = result.rendered
        print(f"{len(result.written)} results written, {len(result.skipped)} kept from earlier runs")
        failed = result.failed
        for failure in failed:
            print(f"failed: {failure}")
    print(report(rendered))
    return 1 if failed else 0  # each part that failed is printed above


def verify_unless_told(args) -> None:
    """The cheap dataset verification before anything reads `args.data` (skipped with --no-verify).

    The entry names are checked first: a typo there is the cheaper mistake to report.
    """
    from gunshot_bench.evaluation.entries import resolve_entries

    resolve_entries(args.models, args.profile)
    if not args.no_verify:
        from gunshot_bench.dataset.verify import check_dataset

        check_dataset(args.data)


def report(rendered) -> str:
    from gunshot_bench.leaderboard.render import _md_table

    lines = []
    for section in rendered.sections:
        lines += ["", f"== {section.title} =="]
        for table in section.tables + section.robustness:
            lines += ["", table.title, *_md_table(table)]
    for bad in rendered.bad:
        lines.append(f"left out: {bad}")
    lines += ["", f"leaderboard: {rendered.markdown}", f"page: {rendered.html}",
              f"plots: {len(rendered.plots)} PNG files under {rendered.html.parent / 'plots'}"]
    return "\n".join(lines)

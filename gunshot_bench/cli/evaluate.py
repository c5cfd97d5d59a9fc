"""`gunshot-bench evaluate`: score a trained run on any collection, without building a dataset."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    from gunshot_bench.cli import add_plugin_option

    p = subparsers.add_parser(
        "evaluate", help="score a trained model on a folder of recordings (no dataset build needed)",
        description="Score the model in RUN_DIR (written by `gunshot-bench train`) on every file of a "
                    "collection the loaders read, e.g. --source folder=my_recordings with gunshot/ and "
                    "background/ subfolders, cut into 2 s segments as a build would.")
    p.add_argument("run_dir", help="run directory of `gunshot-bench train`")
    p.add_argument("--source", required=True, metavar="KIND=PATH", help="collection kind and folder, e.g. folder=./clips")
    p.add_argument("--task", default=None, choices=["category", "model", "two_stage", "detection"],
                   help="task to score (default: the run's own)")
    p.add_argument("--out", default=None, help="write the result JSON (leaderboard schema) to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.cli import parse_source
    from gunshot_bench.evaluate import evaluate_source
    from gunshot_bench.leaderboard.tables import METRIC_TITLES, fmt_main

    kind, path = parse_source(args.source)
    result = evaluate_source(args.run_dir, kind, path, args.task, args.out, progress=not args.no_progress)
    print(f"{result['model']['name']} ({args.run_dir}) on {args.source}, task {result['task']}: "
          f"{result['n_test']} segments; {result.get('notes', '')}")
    print("score (mean [bootstrap 95% interval over clips], %):")
    for name, agg in result["aggregate"].items():
        if agg["mean"] is not None:
            print(f"  {METRIC_TITLES.get(name, name):<24} {fmt_main({**agg, 'std': None}, name)}")
    per_class = result["per_seed"][0].get("per_class", {})
    if per_class:
        print("per class: " + ", ".join(f"{k} F1 {100 * v['f1']:.1f} (n={v['support']})" for k, v in per_class.items()))
    if args.out:
        print(f"result: {args.out}")
    return 0

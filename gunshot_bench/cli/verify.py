"""`gunshot-bench verify DIR`: check a built dataset folder against its manifest."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="check a dataset folder's shards, row counts, rows and files against its manifest",
                       description="Check every shard's sha256 and the row counts against manifest.json, "
                                   "recompute each row's segment_sha256, compare its labels with "
                                   "build_report.json and report files no build writes. Exit 1 when anything fails.")
    p.add_argument("data_dir", help="built dataset folder")
    p.add_argument("--quick", action="store_true",
                   help="only the cheap part (checksums and counts), as train and leaderboard run it")
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.dataset.verify import verify_dataset

    v = verify_dataset(args.data_dir, full=not args.quick)
    for problem in v.problems:
        print(f"FAILED: {problem}")
    print(v.line() if v.ok else f"{args.data_dir}: {len(v.problems)} problems in {v.shards} shards, {v.rows} rows")
    return 0 if v.ok else 1

"""`gunshot-bench train`: train one model on one task of a built dataset."""

from __future__ import annotations

import json
from pathlib import Path

from gunshot_bench.cli import UserError, non_negative_int, positive_int


def add_parser(subparsers) -> None:
    from gunshot_bench.cli import add_plugin_option

    p = subparsers.add_parser("train", help="train a model on a built dataset",
                              description="Train one registered model on one task (study A's protocol).")
    p.add_argument("--data", required=True, help="built dataset folder")
    p.add_argument("--model", required=True, help="registered model name (e.g. audioresnet_two_stage)")
    p.add_argument("--task", default=None, choices=["category", "model", "two_stage", "detection"],
                   help="default: two_stage for audioresnet_two_stage, else model")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--max-epochs", type=positive_int, default=None)
    p.add_argument("--no-verify", action="store_true", help="skip checking the dataset's shards against its manifest")
    p.add_argument("--baseline", default=None, help="baseline TOML name or path for the overrides")
    p.add_argument("--profile", default=None, help="profile of the baseline file (e.g. small)")
    p.add_argument("--init-from", default=None, help="run directory to fine-tune from")
    p.add_argument("--protocol", default="grouped", choices=["grouped", "segment"],
                   help="split protocol: grouped (leak-free, default) or segment (study A's random split)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="override a hyperparameter, e.g. --set lr=0.0005 --set channels=[16,32]")
    p.add_argument("--stream", action="store_true",
                   help="keep waveforms and features on disk and read them a batch at a time (memory does "
                        "not grow with the dataset; the same model); grouped protocol, no augmentation")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.epilog = ("Measured on 2 cores (docs/performance.md): the two-stage AudioResNet on the paper preset's "
                "dataset, study A's protocol, took 5.5 min (early stopping ended it); 60 full epochs would take about 17 min (extrapolated).")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.dataset.ownership import MARKER
    from gunshot_bench.train import load_baseline, train_run

    out = Path(args.out)
    if (out / MARKER).exists() or (out / "manifest.json").exists():
        raise UserError(f"--out {out} is a dataset folder; write the run somewhere else (e.g. runs/NAME)")
    if not args.no_verify:
        from gunshot_bench.dataset.verify import check_dataset

        check_dataset(args.data)
    overrides = {}
    if args.baseline:
        overrides.update(load_baseline(args.baseline, args.profile)["overrides"])
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    from gunshot_bench.models.registry import check_params, model_class
    from gunshot_bench.train import split_overrides

    check_params(model_class(args.model), split_overrides(args.model, overrides)[1])  # before any data is read
    task = args.task or ("two_stage" if args.model == "audioresnet_two_stage" else "model")
    result = train_run(args.data, args.model, task, args.seed, args.out, overrides,
                       init_from=args.init_from, progress=not args.no_progress, protocol=args.protocol,
                       stream=args.stream)
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items() if k != "n")
    print(f"trained {args.model} on {task} (seed {args.seed}) in {result.wall_time_s:.1f} s"
          + (f"; validation: {scores}" if scores else "") + f"\nrun directory: {result.out_dir}")
    return 0

"""`gunshot-bench export`: write a trained run's networks as ONNX for onnxruntime inference."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a trained run's networks (ONNX)",
        description="Write RUN_DIR/onnx/*.onnx and manifest.json; `predict --model RUN_DIR` then "
                    "runs the networks through onnxruntime (needs the [onnx] extra).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `gunshot-bench train`")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default RUN_DIR/onnx)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from gunshot_bench.cli import UserError
    from gunshot_bench.export import export_onnx, onnx_available

    if not (Path(args.run_dir) / "config.json").is_file():
        raise UserError(f"{args.run_dir}: not a run directory (no config.json)")
    if not onnx_available():
        raise UserError("ONNX export needs onnx and onnxruntime: pip install 'gunshot-bench[onnx]'")
    for path in export_onnx(args.run_dir, args.out, opset=args.opset):
        print(path)
    return 0

"""`gunshot-bench predict`: classify audio files (2 s clips or long recordings)."""

from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("predict", help="recognise firearms in audio files",
                              description="A label per 2 s clip, a line per detected shot in a long recording.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", default=None, metavar="RUN_DIR",
                   help="run directory of a trained model (default: a model trained on simulated audio)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--top", type=int, default=3, help="labels shown per clip (best + alternatives)")
    p.add_argument("--engine", default="auto", choices=["auto", "torch", "onnx"],
                   help="network runtime: onnx needs `gunshot-bench export RUN_DIR` first; auto uses "
                        "it when present (faster on CPU), torch otherwise")
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.predict import predict_files

    results = predict_files(args.files, run_dir=args.model, top_k=args.top, progress=True,
                            engine=args.engine)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        if args.model is None:
            print("(default model: trained on SIMULATED audio from the embedded corpus; "
                  "pass --model RUN_DIR for one trained on real recordings)")
        for r in results:
            print(r.format())
    return 0 if all(r.ok for r in results) else 1

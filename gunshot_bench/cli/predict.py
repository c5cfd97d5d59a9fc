"""`gunshot-bench predict`: classify audio files (2 s clips or long recordings)."""

from __future__ import annotations

from gunshot_bench.cli import UserError, add_plugin_option


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict", help="recognise firearms in audio files",
        description="A label per 2 s clip; for a longer recording (streamed, any length), one event "
                    "per shot or burst of automatic fire, with its start, end, shot count and shot times.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", default=None, metavar="RUN_DIR",
                   help="run directory of a trained model (default: a model trained on simulated audio)")
    p.add_argument("--format", default="text", choices=["text", "json", "jsonl", "csv"],
                   help="text (default); json: a list of files; jsonl and csv: one row per event "
                        "(or per clip, or per failed file)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--top", type=int, default=3, help="labels shown per clip or event (best + alternatives)")
    p.add_argument("--threshold-db", type=float, default=None, metavar="DB",
                   help="onset threshold in dB above the noise floor (default: the run's "
                        "onset_threshold_db, chosen on its validation data; 10 dB for older runs)")
    p.add_argument("--engine", default="auto", choices=["auto", "torch", "onnx"],
                   help="network runtime: onnx needs `gunshot-bench export RUN_DIR` first; auto uses "
                        "it when present (faster on CPU), torch otherwise")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars or messages (shown only with --format text)")
    p.epilog = ("Measured on 2 cores (docs/performance.md): one hour of audio in 22.9 s with onnxruntime "
                "(after `gunshot-bench export`); the two-stage model classifies a 2 s clip in 4.3 ms (1 thread). The "
                "default model is trained once, on first "
                "use, from the simulated small corpus.")
    add_plugin_option(p)  # a run of a plugin's model needs its class registered to load
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.predict import format_results, predict_files

    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    if args.threshold_db is not None and not 0 < args.threshold_db <= 60:
        raise UserError(f"--threshold-db must be in (0, 60] dB above the noise floor, got {args.threshold_db}")
    fmt = "json" if args.json else args.format
    progress = fmt == "text" and not args.no_progress
    results = predict_files(args.files, run_dir=args.model, top_k=args.top, progress=progress,
                            threshold_db=args.threshold_db, engine=args.engine)
    if fmt == "text" and args.model is None:
        print("(default model: trained on SIMULATED audio from the embedded corpus; "
              "pass --model RUN_DIR for one trained on real recordings)")
    print(format_results(results, fmt))
    return 0 if all(r.ok for r in results) else 1

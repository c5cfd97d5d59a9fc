"""`gunshot-bench download`: fetch the audio of a collection that can be fetched (YouTube, with yt-dlp)."""

from __future__ import annotations

from gunshot_bench.cli import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("download", help="download the audio a collection's manifest lists (needs network)")
    p.add_argument("collection", choices=["youtube"], help="which collection")
    p.add_argument("--root", required=True, help="the collection folder holding manifest.csv")
    p.add_argument("--yt-dlp", default=None, help="path of the yt-dlp executable (default: found on PATH)")
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.sources import youtube

    try:
        failed = youtube.download(args.root, yt_dlp=args.yt_dlp)
    except RuntimeError as exc:
        raise UserError(str(exc)) from exc
    if failed:
        print(f"{len(failed)} row(s) not downloaded:")
        for line in failed:
            print(f"  {line}")
        return 1
    print("all audio present")
    return 0

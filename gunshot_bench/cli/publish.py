"""`gunshot-bench publish`: push a built dataset folder to the Hub and tag its version."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("publish", help="push a built dataset to the Hugging Face Hub (needs network and a token)")
    p.add_argument("--data", default="gunshot-bench", help="the built dataset folder (default ./gunshot-bench)")
    p.add_argument("--repo", required=True, help="ORG/NAME of the dataset repository on the Hub")
    p.add_argument("--tag", required=True, help="version tag, e.g. v0.1.0")
    p.add_argument("--private", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from gunshot_bench.dataset.hub import publish

    print(publish(args.data, args.repo, args.tag, private=args.private))
    return 0

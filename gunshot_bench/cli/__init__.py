"""The `gunshot-bench` command: a thin dispatcher over the library API.

Each subcommand is a module in this package defining `add_parser(subparsers)` (which sets
`func` on its parser to a callable taking the parsed arguments and returning an exit code).
Adding a command means adding a module and its name to `COMMANDS`.

Errors: a `UserError` (raised where input is validated; `gunshot_bench.errors`) and a missing
or already existing path the user named are printed as one line with exit code 2. Every
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from gunshot_bench import __version__
from gunshot_bench.errors import UserError  # noqa: F401 - commands raise gunshot_bench.cli.UserError

COMMANDS = ["build", "publish", "download", "train", "predict", "synth", "leaderboard", "robustness", "evaluate", "run", "export", "verify", "encoders"]


def _number(kind, minimum, text: str, strict: bool):
    import argparse

    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if value != value or value in (float("inf"), float("-inf")) or value < minimum or (strict and value == minimum):
        raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum}, got '{text}'")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer > 0 (argparse turns the error into a one-line message and exit 2)."""
    return _number(int, 0, text, strict=True)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(int, 0, text, strict=False)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _number(float, 0.0, text, strict=True)


def parse_source(text: str) -> tuple[str, str]:
    """`--source KIND=PATH` as (kind, path); UserError when either side is missing."""
    kind, sep, path = text.partition("=")
    if not sep or not kind.strip() or not path.strip():
        raise UserError(f"--source takes KIND=PATH (e.g. folder=./clips), got '{text}'")
    return kind.strip(), path.strip()


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the message and where to look, no usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_plugin_option(p) -> None:
    """`--plugin MODULE` (repeatable) on a command that takes a model; `main` imports them first."""
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import a module (dotted name or .py file) that registers your own model; its folder "
                        "may hold leaderboard entries (<entry>.toml). Installed packages join through the "
                        "'gunshot_bench.models' entry points without this flag")


def add_engine_options(p) -> None:
    """`--engine local|ray` and `--ray-address` on a command that trains and scores."""
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="what runs the trainings and scorings: local (a process pool, the default) or ray "
                        "(Ray tasks; needs the 'ray' extra; identical results; see docs/scaling.md)")
    p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="the Ray cluster to join with --engine ray (default: $RAY_ADDRESS; with neither, "
                        "a local Ray is started on this machine)")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gunshot-bench",
        description="Firearm sound recognition: dataset builder and benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"gunshot-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"gunshot_bench.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if getattr(args, "plugin", None):
            from gunshot_bench.plugins import load_plugins

            load_plugins(args.plugin)
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, FileExistsError) as exc:
        if args.verbose:  # a developer may want to see where the message came from
            raise
        print(f"gunshot-bench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

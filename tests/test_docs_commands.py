"""The README's and docs' command examples stay true to the CLI: every subcommand they name
answers `--help`, and every flag they pass to it exists. "Docs" is every Markdown file of the
repository (README, docs/, benchmarks/, the dataset card template, the rendered leaderboard) and
the package's own messages that tell the user a command to run (e.g. `gunshot-bench export RUN_DIR`)."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from gunshot_bench.cli import COMMANDS, main, make_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").rglob("*.md")),
        *sorted((ROOT / "gunshot_bench").rglob("*.md")), ROOT / "leaderboard" / "LEADERBOARD.md",
        *sorted((ROOT / "gunshot_bench").rglob("*.py"))]


def _examples() -> list[tuple[str, str]]:
    """(file name, command line) of every `gunshot-bench ...` in inline code or a code block."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        snippets = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S) + re.findall(r"`([^`\n]+)`", text)
        for snippet in snippets:
            for line in snippet.replace("\\\n", " ").splitlines():
                for match in re.finditer(r"gunshot-bench\s+([a-z][\w-]*)([^|;&`]*)", line):
                    found.append((str(doc.relative_to(ROOT)), f"{match.group(1)}{match.group(2)}".strip()))
    return found


def _options(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {o for a in p._actions for o in a.option_strings} for name, p in sub.choices.items()}


EXAMPLES = _examples()


def test_the_docs_name_commands():
    assert len(EXAMPLES) >= 10 and {c.split()[0] for _, c in EXAMPLES} >= {"build", "run", "leaderboard", "train"}
    named_in = {doc for doc, _ in EXAMPLES}
    assert {"README.md", "docs/leaderboard.md", "gunshot_bench/sources/youtube.py"} <= named_in


def test_every_subcommand_is_documented():
    """The other direction: a subcommand no doc names is one a user cannot find."""
    assert sorted(set(COMMANDS) - {c.split()[0] for _, c in EXAMPLES}) == []


@pytest.mark.parametrize("command", sorted({c.split()[0] for _, c in EXAMPLES}))
def test_each_named_subcommand_answers_help(command, capsys):
    assert command in COMMANDS, f"the docs name `gunshot-bench {command}`, which does not exist"
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and f"usage: gunshot-bench {command}" in capsys.readouterr().out


def test_every_flag_in_an_example_exists():
    options = _options(make_parser())
    wrong = []
    for doc, line in EXAMPLES:
        words = shlex.split(line.replace("...", ""), posix=True) if line.count('"') % 2 == 0 else line.split()
        command = words[0]
        if command not in options:
            continue  # reported by the test above
        for word in words[1:]:
            flag = word.split("=", 1)[0]
            if flag.startswith("--") and flag not in options[command]:
                wrong.append(f"{doc}: `gunshot-bench {line}`: {command} has no {flag}")
    assert not wrong, "\n".join(wrong)

"""The import graph of the package keeps its layers and has no cycle.

Every module's imports are read with `ast`, those inside functions included (an import
inside a function is still a dependency: hiding a cycle there is what this test stops).
Layers, from the bottom (docs/architecture.md):

0. the library: everything not named below (taxonomy, audio, features, models, train, evaluate, ...);
1. the evaluation core `gunshot_bench.evaluation`, in its own order: jobs < entries < engine <
   training < scoring < conditions;
2. the renderer `gunshot_bench.leaderboard` (it only renders result files);
3. the protocols `gunshot_bench.protocols` (leaderboard, study B, robustness on study B);
4. the jobs of the whole package: `pipeline`, `repro_slice`;
5. the command line `gunshot_bench.cli`.

A module imports only from its own layer or below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gunshot_bench"
CORE_ORDER = ("jobs", "entries", "engine", "training", "scoring", "conditions")
PROTOCOL_ORDER = ("leaderboard", "study_b", "robustness")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Package modules that `name` imports, anywhere in its file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from pkg import sub` imports the module pkg.sub when there is one
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target.startswith("gunshot_bench") and target != name:
                found.add(target)
    return found


def layer(name: str) -> tuple[int, int]:
    """(layer, rank inside the layer) of a module."""
    parts = name.split(".")
    sub = parts[1] if len(parts) > 1 else ""
    leaf = parts[2] if len(parts) > 2 else ""
    if sub == "evaluation":
        return 1, CORE_ORDER.index(leaf) + 1 if leaf else 0
    if sub == "leaderboard":
        return 2, 0
    if sub == "protocols":
        return 3, PROTOCOL_ORDER.index(leaf) + 1 if leaf else 0
    if sub in ("pipeline", "repro_slice"):
        return 4, 0
    if sub == "cli":
        return 5, 0
    return 0, 0


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def test_the_graph_is_read(graph):
    # the parser finds what is there: a lazy import inside a function included
    assert "gunshot_bench.evaluation.entries" in graph["gunshot_bench.protocols.leaderboard"]
    assert "gunshot_bench.protocols.robustness" in graph["gunshot_bench.cli.robustness"]  # inside `run`
    assert "gunshot_bench.pipeline" in graph["gunshot_bench.cli.run"]


def test_every_import_points_down_or_sideways(graph):
    bad = []
    for name, targets in graph.items():
        for target in targets:
            (src_layer, src_rank), (dst_layer, dst_rank) = layer(name), layer(target)
            if dst_layer > src_layer:
                bad.append(f"{name} -> {target} (layer {src_layer} imports layer {dst_layer})")
            elif dst_layer == src_layer and src_layer in (1, 3) and src_rank and dst_rank >= src_rank \
                    and target != name:
                bad.append(f"{name} -> {target} (against the order inside layer {src_layer})")
    assert not bad, "imports against the layers:\n" + "\n".join(sorted(bad))


def test_the_core_knows_no_job_types_and_no_protocol(graph):
    assert not {t for t in graph["gunshot_bench.evaluation.jobs"] if t.startswith("gunshot_bench.evaluation")}
    core = [n for n in graph if n.startswith("gunshot_bench.evaluation")]
    assert core and not [t for n in core for t in graph[n]
                         if t.startswith(("gunshot_bench.protocols", "gunshot_bench.leaderboard"))]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle(graph):
    # A package's __init__ that re-exports its submodules, imported back by a submodule for a
    # name, is not a cycle of dependencies: the submodule depends on a sibling, not on itself.
    edges = {name: {t for t in targets if not (name.startswith(t + ".") and (PACKAGE.parent / Path(
        *t.split("."))).is_dir())} for name, targets in graph.items()}
    assert not _cycles(edges)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

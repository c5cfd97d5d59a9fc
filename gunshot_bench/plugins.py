"""User models from outside the package: the `gunshot_bench.models` entry points and `--plugin MODULE`.

A plugin is a module that registers its model classes with `@gunshot_bench.models.register(...)`
when imported. Installed packages announce theirs in the `gunshot_bench.models` entry-point
group; a module of one's own is named with `--plugin` (a dotted module name, or the path of a
`.py` file). Leaderboard entries (`<entry>.toml`) may sit in the plugin module's folder:
`baseline_dirs()` lists those folders after the package's own baselines.

Example (pyproject.toml of a package with a model):

    [project.entry-points."gunshot_bench.models"]
    my_model = "my_package.my_model"
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

ENTRY_POINT_GROUP = "gunshot_bench.models"

#: Folders of the plugin modules loaded so far (they may hold leaderboard entries).
_PLUGIN_DIRS: list[Path] = []
#: The `--plugin` specs loaded so far, as worker processes must load them again (a spawned
#: worker starts with a fresh interpreter and an empty registry).
_LOADED_SPECS: list[str] = []
_ENTRY_POINTS_LOADED = False


def load_entry_points() -> list[str]:
    """Import every module of the `gunshot_bench.models` entry-point group once; their names."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return []
    _ENTRY_POINTS_LOADED = True
    names = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        module = ep.load()
        _remember(module)
        names.append(ep.name)
    return names


def load_plugin(spec: str) -> ModuleType:
    """Import a plugin given as a dotted module name or a `.py` file path.

    A file's folder is put on `sys.path` so that the module can import its neighbours.

    Raises:
        ModuleNotFoundError: no such module or file (a ValueError subclass is not apt: it is an ImportError).
    """
    path = Path(spec)
    if path.suffix == ".py":
        if not path.is_file():
            raise FileNotFoundError(f"--plugin {spec}: no such file")
        spec = str(path.resolve())
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        name = path.stem
    else:
        name = spec
        if str(Path.cwd()) not in sys.path and "" not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # `--plugin my_model` finds ./my_model.py, as `python -m` would
    if name in sys.modules:
        module = sys.modules[name]
    else:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the plugin itself failed to import something: a bug, keep the traceback
                raise
            raise FileNotFoundError(f"--plugin {spec}: no module named {name!r} (give a module on the Python "
                                    f"path or the path of a .py file)") from None
    _remember(module)
    if spec not in _LOADED_SPECS:
        _LOADED_SPECS.append(spec)
    return module


def loaded_specs() -> list[str]:
    """The `--plugin` specs loaded in this process, for worker processes to load in turn."""
    return list(_LOADED_SPECS)


def load_plugins(specs: list[str] | None) -> list[ModuleType]:
    """`load_plugin` of each spec, in order."""
    return [load_plugin(s) for s in specs or []]


def baseline_dirs() -> list[Path]:
    """Folders of loaded plugin modules, where their leaderboard entries (`*.toml`) may sit."""
    return list(_PLUGIN_DIRS)


def _remember(module: ModuleType) -> None:
    file = getattr(module, "__file__", None)
    if file:
        folder = Path(file).resolve().parent
        if folder not in _PLUGIN_DIRS:
            _PLUGIN_DIRS.append(folder)

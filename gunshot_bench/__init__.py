"""gunshot-bench: an open dataset and benchmark package for firearm sound recognition.

The library API lives in the submodules; the CLI (`gunshot-bench`) is a thin layer over it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gunshot-bench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"


def load_dataset(config: str = "clean", **kwargs):
    """Load the local gunshot-bench dataset, building it from the embedded corpus on first use.

    See `gunshot_bench.dataset.hub.load_dataset` for the arguments.
    """
    from gunshot_bench.dataset.hub import load_dataset as _load

    return _load(config=config, **kwargs)

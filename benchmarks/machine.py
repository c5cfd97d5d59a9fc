"""The machine a benchmark ran on: CPU model, cores, RAM, load average, library versions."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """CPU, cores usable by this process, RAM, load average now, and the versions that matter."""
    import numpy
    import torch

    info = {"cpu": _cpu_model(), "cores": len(os.sched_getaffinity(0)), "ram_gb": _ram_gb(),
            "load_average_1_5_15": [round(v, 2) for v in os.getloadavg()],
            "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "numpy": numpy.__version__,
            "utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    return info


def emit(result: dict, json_path: Path | None) -> None:
    """Print a benchmark's result and, when asked, write it as JSON (for run_all.py), with the
    command that produced it (less its --json path)."""
    argv = sys.argv[:]
    if "--json" in argv:
        i = argv.index("--json")
        del argv[i:i + 2]
    result.setdefault("command", " ".join(["python", *argv]))
    print(json.dumps(result, indent=1))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=1))

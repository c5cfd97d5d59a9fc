"""`onnx`: any ONNX model over raw waveform blocks, declared in a baseline file (no code).

    [params]
    encoder = "onnx"
    encoder_params = { path = "models/my_encoder.onnx", sample_rate = 16000, block_length = 16000 }
"""

from __future__ import annotations

import importlib.util

from gunshot_bench.encoders.base import OnnxEncoder
from gunshot_bench.encoders.registry import register_encoder


def _unavailable() -> str | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed; install the `pretrained` extra: pip install -e '.[pretrained]'"
    return None


@register_encoder("onnx", unavailable_reason=_unavailable)
def build(path: str, sample_rate: int, block_length: int) -> OnnxEncoder:
    """An ONNX encoder whose first input takes `[batch, block_length]` waveform blocks."""
    return OnnxEncoder(path, sample_rate, block_length, name="onnx")

"""Pretrained audio encoders: one registry of frozen networks turning clips into embeddings.

Example:
    >>> from gunshot_bench.encoders import get_encoder  # doctest: +SKIP
    >>> get_encoder("aisfx").embed(waveforms)  # [n, 512]  # doctest: +SKIP
"""

from gunshot_bench.encoders.base import Encoder, EncoderUnavailable, OnnxEncoder, TorchEncoder, waveform_blocks
from gunshot_bench.encoders.registry import (available_encoders, clear_encoder_cache, encoder_unavailable_reason,
                                             get_encoder, register_encoder, unregister_encoder)
from gunshot_bench.encoders.weights import UnsafeCheckpoint, safe_load
from gunshot_bench.encoders import aisfx, onnx  # noqa: E402,F401  (registers the built-in encoders)

__all__ = ["Encoder", "EncoderUnavailable", "OnnxEncoder", "TorchEncoder", "UnsafeCheckpoint", "available_encoders",
           "clear_encoder_cache", "encoder_unavailable_reason", "get_encoder", "register_encoder", "safe_load",
           "unregister_encoder", "waveform_blocks"]

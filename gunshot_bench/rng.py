"""Explicit randomness: every random draw comes from a generator derived from (seed, stable keys).

Deriving the generator by hashing means that a clip's draw does not change when other clips
are added or the order of processing changes. The global `random` and `np.random` state is
never used.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_hash(*keys: object) -> int:
    """A 64-bit integer that depends only on the string forms of `keys` (not on PYTHONHASHSEED).

    >>> stable_hash("a", 1) == stable_hash("a", 1)
    True
    """
    text = "\x1f".join(str(k) for k in keys)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def stable_uniform(*keys: object) -> float:
    """A number in [0, 1) that depends only on `keys`."""
    return stable_hash(*keys) / 2.0**64


def derive_rng(seed: int, *keys: object) -> np.random.Generator:
    """A numpy Generator seeded from `seed` and stable keys (e.g. a clip id and a variant name)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_hash(*keys)])

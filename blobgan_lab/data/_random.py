"""Counter-based random numbers: every draw is a pure function of (seed, image index, draw name).

A procedural dataset must give image ``i`` of seed ``S`` the same pixels whichever batch it is
rendered in, and adding a new random choice to the generator must not reshuffle the existing ones.
Hashing (seed, index, name) gives both, and it vectorizes over a whole batch of indices in numpy
(no per-image ``np.random.Generator`` to construct).
"""

from __future__ import annotations

import threading
import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on a uint64 array (wrapping arithmetic is what we want here)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MUL1
    x = x ^ (x >> np.uint64(27))
    x = x * _MUL2
    return x ^ (x >> np.uint64(31))


def _stream_key(name: str) -> np.uint64:
    """64-bit key of a draw name (stable across runs and platforms, unlike hash())."""
    crc = np.array([zlib.crc32(name.encode("utf-8"))], dtype=np.uint64)
    return _mix64(crc * _GOLDEN)[0]


class _Registry:
    """Draw names seen so far and their keys, so later batches can hash all of them in one go.

    Only the speed depends on it: a draw's value never depends on which names were seen before.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.column: dict[str, int] = {}
        self.keys = np.zeros(0, dtype=np.uint64)

    def add(self, name: str):
        with self.lock:
            if name not in self.column:
                self.column[name] = len(self.keys)
                self.keys = np.append(self.keys, _stream_key(name))


_REGISTRY = _Registry()


def _unit(bits: np.ndarray) -> np.ndarray:
    """uint64 -> float64 in [0, 1) from the top 53 bits."""
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class Draws:
    """Named uniform draws for a batch of image indices.

    ``Draws(indices, seed).uniform("bed.width", 1.4, 1.9)`` returns a float64 array [N]; the value
    for one image depends only on (seed, its index, the name).
    """

    def __init__(self, indices: np.ndarray, seed: int):
        indices = np.asarray(indices, dtype=np.int64)
        if indices.ndim != 1:
            raise ValueError(f"indices must be a 1-D sequence of integers, got shape {indices.shape}")
        if indices.size and indices.min() < 0:
            raise ValueError(f"indices must be >= 0, got {int(indices.min())}")
        seed_word = np.array([int(seed) & _MASK64], dtype=np.uint64)
        self._per_image = _mix64(_mix64(seed_word) + indices.astype(np.uint64) * _GOLDEN)
        self.n = int(indices.size)
        # Every name drawn before (by any batch) at once: [N, K].
        keys = _REGISTRY.keys
        self._known = _unit(_mix64(self._per_image[:, None] ^ keys[None, :])) if len(keys) else None
        self._known_count = len(keys)

    def uniform(self, name: str, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """Uniform floats in [low, high), shape [N], float64."""
        column = _REGISTRY.column.get(name)
        if column is not None and column < self._known_count:
            unit = self._known[:, column]
        else:
            unit = _unit(_mix64(self._per_image ^ _stream_key(name)))
            _REGISTRY.add(name)
        return low + (high - low) * unit

    def chance(self, name: str, p) -> np.ndarray:
        """Bernoulli draws with probability ``p`` (scalar or [N]), shape [N], bool."""
        return self.uniform(name) < p

    def choice(self, name: str, weights) -> np.ndarray:
        """Categorical draws over ``len(weights)`` options (weights need not sum to 1), shape [N], int."""
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        return np.searchsorted(cumulative / cumulative[-1], self.uniform(name), side="right")

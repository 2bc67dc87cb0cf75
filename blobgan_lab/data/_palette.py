"""Plausible bedroom colours, drawn per image as RGB arrays [N,3] in [0,1].

Each material is a small mixture of HSV boxes (e.g. walls are mostly light neutrals, sometimes
pastel, rarely a deep accent colour), so random rooms look like rooms and not like noise.
"""

from __future__ import annotations

import numpy as np

from ._random import Draws

# Mixtures of (weight, (h_lo, h_hi), (s_lo, s_hi), (v_lo, v_hi)); hue in turns (0..1).
WALL = [
    (0.55, (0.0, 1.0), (0.02, 0.12), (0.74, 0.95)),
    (0.35, (0.0, 1.0), (0.12, 0.32), (0.62, 0.90)),
    (0.10, (0.0, 1.0), (0.30, 0.55), (0.35, 0.62)),
]
CEILING = [(1.0, (0.08, 0.16), (0.0, 0.06), (0.86, 0.98))]
FLOOR = [
    (0.55, (0.05, 0.11), (0.35, 0.70), (0.30, 0.72)),   # wood
    (0.30, (0.06, 0.14), (0.05, 0.30), (0.45, 0.82)),   # carpet, beige to grey
    (0.15, (0.0, 1.0), (0.0, 0.06), (0.35, 0.75)),      # grey tiles / concrete
]
WOOD = [
    (0.75, (0.05, 0.11), (0.35, 0.75), (0.18, 0.65)),
    (0.25, (0.0, 1.0), (0.0, 0.05), (0.15, 0.95)),      # painted white / grey / black
]
FABRIC = [
    (0.30, (0.08, 0.15), (0.0, 0.10), (0.82, 0.97)),    # white / cream
    (0.50, (0.0, 1.0), (0.15, 0.55), (0.35, 0.85)),
    (0.20, (0.0, 1.0), (0.45, 0.80), (0.30, 0.70)),
]
SHEET = [(1.0, (0.05, 0.7), (0.0, 0.10), (0.86, 0.98))]
UPHOLSTERY = [
    (0.6, (0.0, 1.0), (0.05, 0.45), (0.20, 0.70)),
    (0.4, (0.05, 0.11), (0.35, 0.70), (0.20, 0.55)),    # wooden headboard
]
RUG = [
    (0.6, (0.0, 1.0), (0.20, 0.65), (0.30, 0.80)),
    (0.4, (0.05, 0.14), (0.05, 0.30), (0.55, 0.90)),
]
FRAME = [
    (0.5, (0.0, 1.0), (0.0, 0.05), (0.05, 0.25)),       # black
    (0.3, (0.08, 0.13), (0.45, 0.75), (0.45, 0.80)),    # gold / oak
    (0.2, (0.0, 1.0), (0.0, 0.04), (0.85, 0.97)),       # white
]
ART = [(1.0, (0.0, 1.0), (0.20, 0.80), (0.25, 0.95))]
SKY_DAY = [(1.0, (0.55, 0.62), (0.35, 0.65), (0.70, 0.95))]
SKY_DUSK = [(1.0, (0.02, 0.10), (0.35, 0.70), (0.75, 0.98))]
FOLIAGE = [(1.0, (0.22, 0.38), (0.25, 0.60), (0.25, 0.55))]
LIGHT = [(1.0, (0.10, 0.15), (0.05, 0.35), (0.97, 1.0))]
METAL = [(1.0, (0.0, 1.0), (0.0, 0.12), (0.10, 0.75))]


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV (each [N], hue in turns) to RGB [N,3], all in [0,1]."""
    h6 = (np.asarray(h) % 1.0) * 6.0
    # Piecewise-linear hue ramps for R, G, B: k = (n + h6) mod 6, channel = v - v*s*clip(min(k, 4-k), 0, 1).
    out = []
    for n in (5.0, 3.0, 1.0):
        k = (n + h6) % 6.0
        out.append(v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return np.stack(out, axis=-1)


def draw_colour(draws: Draws, name: str, mixture) -> np.ndarray:
    """One colour per image from an HSV mixture, RGB [N,3] in [0,1]."""
    table = np.array([[lo_hi for box in option[1:] for lo_hi in box] for option in mixture])   # [O,6]
    which = draws.choice(name + ".mix", [option[0] for option in mixture])
    lo, span = table[which, 0::2], table[which, 1::2] - table[which, 0::2]                      # [N,3]
    u = np.stack([draws.uniform(name + ".h"), draws.uniform(name + ".s"), draws.uniform(name + ".v")], axis=1)
    hsv = lo + span * u
    return hsv_to_rgb(hsv[:, 0], hsv[:, 1], hsv[:, 2])


def shade(rgb: np.ndarray, factor) -> np.ndarray:
    """Scale RGB [N,3] by a brightness factor (scalar or [N]) and clip to [0,1]."""
    factor = np.asarray(factor, dtype=np.float64)
    if factor.ndim == 1:
        factor = factor[:, None]
    return np.clip(rgb * factor, 0.0, 1.0)

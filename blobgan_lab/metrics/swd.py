"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al., ICLR 2018, Sec. 5 / App. D).

No pretrained network is involved, so the number means the same on every machine and for any image
domain. The recipe:

1. Each image (8-bit RGB, as float) is split into a Laplacian pyramid with the 5-tap binomial filter
   [1,4,6,4,1]/16 (mirror borders), from the full resolution down to 16 px: at 64 px the levels are
   64 (finest detail), 32 and 16 (the low-pass residual, i.e. the 16 px image itself).
2. From every level of every image, 128 patches of 7x7 pixels are taken at uniformly random places
   (fully inside the level): 147-dimensional descriptors.
3. Each set of descriptors (one level of one image set) is normalised by its own per-channel mean and
   standard deviation over all its patches and pixels, so the distance looks at local structure and
   colour relations rather than at a global colour cast.
4. Per level, the sliced Wasserstein distance between two descriptor sets of the same size: project
   both on random unit directions, sort each projection, average |a_sorted - b_sorted|; averaged over
   ``n_directions`` directions in each of ``n_repeats`` fresh draws. Karras et al.'s code draws
   4 repeats of 128 directions (512 projections); those are the defaults here.
5. Reported (as in the paper) per level and averaged over levels, multiplied by 1e3.

Everything random comes from one seeded ``numpy.random.Generator``, so a result repeats exactly for
the same inputs and seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

PATCH_SIZE = 7
PATCHES_PER_IMAGE = 128
MIN_LEVEL_SIZE = 16
N_DIRECTIONS = 128
N_REPEATS = 4
REPORT_SCALE = 1e3  # SWD values are reported x 1e3, as in the paper

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


# -- Laplacian pyramid -------------------------------------------------------------------------------

def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable 5x5 binomial blur of [N,C,H,W] with mirror borders (scipy's 'mirror' = torch 'reflect')."""
    n, c, h, w = x.shape
    taps = _BINOMIAL.tolist()
    # five shifted, weighted slices per axis: far faster on the CPU than a one-channel conv2d
    padded = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 0, 0), mode="reflect")[:, 0]
    rows = sum(t * padded[:, :, i:i + w] for i, t in enumerate(taps))
    padded = F.pad(rows[:, None], (0, 0, 2, 2), mode="reflect")[:, 0]
    out = sum(t * padded[:, i:i + h, :] for i, t in enumerate(taps))
    return out.view(n, c, h, w)


def pyramid_down(x: torch.Tensor) -> torch.Tensor:
    """Blur and keep every second row and column: [N,C,H,W] -> [N,C,H/2,W/2]."""
    return _blur(x)[:, :, ::2, ::2]


def pyramid_up(x: torch.Tensor) -> torch.Tensor:
    """Insert zeros between samples and blur (x4 to keep the mean): [N,C,H,W] -> [N,C,2H,2W]."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _blur(up) * 4.0


def pyramid_levels(size: int, min_size: int = MIN_LEVEL_SIZE) -> list[int]:
    """Sides of the pyramid levels for ``size`` px images, finest first, e.g. 64 -> [64, 32, 16]."""
    if size < min_size or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= {min_size} for the SWD pyramid, got {size}")
    sides = [size]
    while sides[-1] > min_size:
        sides.append(sides[-1] // 2)
    return sides


def laplacian_pyramid(images: torch.Tensor, min_size: int = MIN_LEVEL_SIZE) -> list[torch.Tensor]:
    """Laplacian pyramid of float images [N,C,S,S], finest first; the last entry is the low-pass
    residual at ``min_size``. Level i is [N,C,S/2^i,S/2^i]; ``reconstruct`` inverts it exactly."""
    if images.dim() != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square [N,C,S,S], got {list(images.shape)}")
    levels = []
    current = images.float()
    for _ in pyramid_levels(images.shape[-1], min_size)[:-1]:
        down = pyramid_down(current)
        levels.append(current - pyramid_up(down))
        current = down
    levels.append(current)
    return levels


def reconstruct(levels: list[torch.Tensor]) -> torch.Tensor:
    """Image [N,C,S,S] back from its Laplacian pyramid (the check that no information is lost)."""
    image = levels[-1]
    for detail in reversed(levels[:-1]):
        image = detail + pyramid_up(image)
    return image


# -- descriptors -------------------------------------------------------------------------------------

def sample_patches(
    level: torch.Tensor,                  # [N,C,S,S] one pyramid level
    rng: np.random.Generator,
    patches_per_image: int = PATCHES_PER_IMAGE,
    patch_size: int = PATCH_SIZE,
) -> np.ndarray:
    """Random patches fully inside the level: float32 [N*patches_per_image, C, patch_size, patch_size]."""
    n, c, s, _ = level.shape
    if s < patch_size:
        raise ValueError(f"pyramid level of {s} px is smaller than the {patch_size} px patch")
    arr = level.detach().cpu().float().numpy()
    # top-left corners uniform over the valid range, as Karras et al. draw patch centres in [H, S-H-1]
    ys = rng.integers(0, s - patch_size + 1, size=(n, patches_per_image))
    xs = rng.integers(0, s - patch_size + 1, size=(n, patches_per_image))
    # one flat gather: corner index [N,P,1] + offset of every (channel, row, col) of a patch [C*p*p]
    corner = (np.arange(n)[:, None] * c * s * s + ys * s + xs)[..., None]
    chan, row, col = np.meshgrid(np.arange(c), np.arange(patch_size), np.arange(patch_size), indexing="ij")
    offsets = (chan * s * s + row * s + col).ravel()
    patches = np.take(arr.ravel(), corner + offsets)                    # [N,P,C*p*p]
    return patches.reshape(n * patches_per_image, c, patch_size, patch_size)


def normalize_descriptors(patches: np.ndarray) -> np.ndarray:
    """Per-channel standardisation over the whole set: [M,C,p,p] -> float32 [M, C*p*p]."""
    if patches.ndim != 4:
        raise ValueError(f"patches must be [M,C,p,p], got shape {patches.shape}")
    mean = patches.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    std = patches.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    out = (patches - mean.astype(np.float32)) / np.maximum(std, 1e-8).astype(np.float32)
    return np.ascontiguousarray(out.reshape(len(patches), -1), dtype=np.float32)


@dataclass
class PatchSet:
    """Normalised patch descriptors of one image set: ``levels[i]`` is float32 [M, C*p*p] for pyramid
    level ``sides[i]`` (finest first); M = images x patches_per_image."""

    sides: list[int]
    levels: list[np.ndarray]

    @property
    def size(self) -> int:
        return len(self.levels[0])


def image_descriptors(
    images: np.ndarray | torch.Tensor,   # uint8 [N,H,W,3] (or float [N,3,H,W] on any scale)
    seed: int = 0,
    patches_per_image: int = PATCHES_PER_IMAGE,
    patch_size: int = PATCH_SIZE,
    min_size: int = MIN_LEVEL_SIZE,
    chunk: int = 256,
) -> PatchSet:
    """Laplacian-pyramid patch descriptors of an image set (steps 1-3 of the recipe)."""
    x = _as_float_nchw(images)
    sides = pyramid_levels(x.shape[-1], min_size)
    rng = np.random.default_rng(seed)
    per_level: list[list[np.ndarray]] = [[] for _ in sides]
    for start in range(0, len(x), chunk):
        for i, level in enumerate(laplacian_pyramid(x[start:start + chunk], min_size)):
            per_level[i].append(sample_patches(level, rng, patches_per_image, patch_size))
    return PatchSet(sides, [normalize_descriptors(np.concatenate(p)) for p in per_level])


def _as_float_nchw(images) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"numpy images must be uint8 [N,H,W,3], got shape {images.shape}")
        return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError("images must be a uint8 array [N,H,W,3] or a float tensor [N,C,H,W]")
    return images.detach().cpu().float()


# -- the distance ------------------------------------------------------------------------------------

def sliced_wasserstein(
    reference: np.ndarray,              # [M, D] descriptors
    others: list[np.ndarray],           # each [M, D]
    seed: int = 0,
    n_directions: int = N_DIRECTIONS,
    n_repeats: int = N_REPEATS,
) -> list[float]:
    """SWD from ``reference`` to each of ``others``, on the same random directions (so the reference is
    projected and sorted once). Returns one float per entry of ``others``; identical sets give 0."""
    m, d = reference.shape
    for i, o in enumerate(others):
        if o.shape != (m, d):
            raise ValueError(f"descriptor set {i} has shape {o.shape}; it must match the reference {(m, d)} "
                             "(same number of images and patches per image)")
    rng = np.random.default_rng(seed)
    ref_t = torch.from_numpy(reference)
    other_t = [torch.from_numpy(o) for o in others]
    totals = np.zeros(len(others))
    for _ in range(n_repeats):
        dirs = rng.standard_normal((d, n_directions)).astype(np.float32)
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        dirs_t = torch.from_numpy(dirs)
        # numpy's sort (SIMD quicksort) is many times faster than torch.sort on the CPU
        ref_sorted = np.sort((ref_t @ dirs_t).T.contiguous().numpy(), axis=1)     # [n_directions, M]
        for i, o in enumerate(other_t):
            proj = np.sort((o @ dirs_t).T.contiguous().numpy(), axis=1)
            totals[i] += float(np.abs(proj - ref_sorted).mean(dtype=np.float64))
    return (totals / n_repeats).tolist()


def swd_table(
    reference: PatchSet,
    others: dict[str, PatchSet],
    seed: int = 0,
    n_directions: int = N_DIRECTIONS,
    n_repeats: int = N_REPEATS,
) -> dict[str, dict]:
    """SWD x 1e3 from ``reference`` to each named set, per level and averaged over levels.

    Returns {name: {"levels": {side: swd}, "mean": swd}}; the directions are the same for every set
    (each level gets its own stream derived from ``seed``)."""
    names = list(others)
    for name in names:
        if others[name].sides != reference.sides:
            raise ValueError(f"set {name!r} has pyramid levels {others[name].sides}, the reference "
                             f"{reference.sides}: compare images of the same size")
    out: dict[str, dict] = {name: {"levels": {}} for name in names}
    for i, side in enumerate(reference.sides):
        values = sliced_wasserstein(reference.levels[i], [others[n].levels[i] for n in names],
                                    seed=seed * 1000 + i, n_directions=n_directions, n_repeats=n_repeats)
        for name, v in zip(names, values):
            out[name]["levels"][side] = v * REPORT_SCALE
    for name in names:
        out[name]["mean"] = float(np.mean(list(out[name]["levels"].values())))
    return out

"""Training data: procedural bedrooms (the default) and folders of the user's own images.

``make_dataset("rooms", size, seed)`` or ``make_dataset("/path/to/photos", size, seed)`` returns an
object with ``len()``, ``ds[i] -> [3,size,size]`` and ``ds.batch(indices) -> [N,3,size,size]``, all
float tensors in [-1,1].
"""

from __future__ import annotations

from pathlib import Path

from .folder import IMAGE_EXTENSIONS, ImageFolderDataset, ImageReadError, find_images, load_image
from .rooms import (
    LABEL_NAMES,
    OBJECT_KINDS,
    SURFACE_KINDS,
    RoomBatch,
    RoomDataset,
    render_rooms,
    save_samples,
)

DEFAULT_ROOMS_LENGTH = 1_000_000

__all__ = [
    "DEFAULT_ROOMS_LENGTH", "IMAGE_EXTENSIONS", "LABEL_NAMES", "OBJECT_KINDS", "SURFACE_KINDS",
    "ImageFolderDataset", "ImageReadError", "RoomBatch", "RoomDataset", "find_images", "load_image",
    "make_dataset", "render_rooms", "save_samples",
]


def make_dataset(spec: str, size: int, seed: int = 0, flip: bool = False):
    """Dataset from a spec string.

    spec: "rooms" (procedural bedrooms, DEFAULT_ROOMS_LENGTH indices), "rooms:N" (N indices), or
          the path of a folder of images (searched recursively).
    size: image side in pixels. seed: rooms seed (unused by folders).
    flip: random left-right mirroring of folder images (rooms are already varied).
    Returns a RoomDataset or an ImageFolderDataset.
    """
    if not isinstance(spec, (str, Path)) or not str(spec).strip():
        raise ValueError(f"dataset spec must be 'rooms', 'rooms:N' or an image folder path, got {spec!r}")
    text = str(spec).strip()
    if text == "rooms" or text.startswith("rooms:"):
        count = text[len("rooms:"):] if text.startswith("rooms:") else ""
        if not count:
            return RoomDataset(DEFAULT_ROOMS_LENGTH, size=size, seed=seed)
        try:
            length = int(count.replace("_", ""))
        except ValueError:
            length = 0
        if length < 1:
            raise ValueError(f"dataset spec {text!r}: N in 'rooms:N' must be a positive integer, got {count!r}")
        return RoomDataset(length, size=size, seed=seed)
    path = Path(text).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"dataset spec {text!r} is neither 'rooms', 'rooms:N' nor an existing folder")
    return ImageFolderDataset(path, size, flip=flip)

"""A folder of the user's own photos as a training set: resize the shorter side, centre crop, [-1,1].

The preprocessing matches the official BlobGAN data pipeline (Lanczos resize of the shorter side to
``size``, centre crop to ``size`` x ``size``, scale to [-1, 1]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class ImageReadError(OSError):
    """An image file in the dataset folder exists but cannot be decoded."""


def find_images(root, extensions=IMAGE_EXTENSIONS) -> list[Path]:
    """Image files under ``root`` (recursive, case-insensitive extensions), sorted by path.

    Raises FileNotFoundError if ``root`` does not exist, NotADirectoryError if it is a file, and
    ValueError (naming the extensions looked for) if it holds no image.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"image folder not found: {str(root)!r}")
    if not root.is_dir():
        raise NotADirectoryError(f"image folder must be a directory, got a file: {str(root)!r}")
    wanted = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in wanted and p.is_file())
    if not files:
        raise ValueError(f"no images found in {str(root)!r} (searched recursively for files ending in "
                         f"{', '.join(sorted(wanted))}, any letter case)")
    return files


def load_image(path, size: int) -> np.ndarray:
    """Read one image as uint8 [size,size,3] RGB: EXIF rotation applied, transparency over white,
    shorter side resized to ``size`` (Lanczos), centre crop.

    Raises ImageReadError naming the file if it cannot be decoded.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            img = img.convert("RGB")
            w, h = img.size
            scale = size / min(w, h)
            new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
            img = img.resize((new_w, new_h), Image.LANCZOS)
            left, top = (new_w - size) // 2, (new_h - size) // 2
            img = img.crop((left, top, left + size, top + size))
            return np.asarray(img, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(f"cannot read image file {str(path)!r}: {err}") from err


class ImageFolderDataset:
    """Map-style dataset over the images in a folder (recursive): item i is a float tensor
    [3,size,size] in [-1,1].

    root:       folder to search (png, jpg/jpeg, webp, bmp; any letter case).
    size:       output side in pixels.
    flip:       randomly mirror items left-right (p = 0.5, torch's global RNG) as augmentation.
    cache:      keep decoded, resized images in memory (uint8) after their first read.
    extensions: file endings to accept.
    Files are read lazily; a file that cannot be decoded raises ImageReadError naming it.
    """

    def __init__(self, root, size: int, flip: bool = False, cache: bool = False,
                 extensions=IMAGE_EXTENSIONS):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be an integer >= 1 (pixels), got {size!r}")
        self.root = Path(root).expanduser()
        self.size = int(size)
        self.flip = bool(flip)
        self.files = find_images(self.root, extensions)
        self._cache = {} if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def _pixels(self, index: int) -> np.ndarray:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        pixels = load_image(self.files[index], self.size)
        if self._cache is not None:
            self._cache[index] = pixels
        return pixels

    def __getitem__(self, index: int) -> torch.Tensor:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"ImageFolderDataset index must be an int, got {type(index).__name__}")
        n = len(self.files)
        if not -n <= index < n:
            raise IndexError(f"ImageFolderDataset index {index} out of range for {n} images")
        image = torch.from_numpy(self._pixels(int(index) % n)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
        if self.flip and bool(torch.rand(()) < 0.5):
            image = image.flip(-1)
        return image

    def batch(self, indices) -> torch.Tensor:
        """Items ``indices`` stacked as a float tensor [N,3,size,size] in [-1,1]."""
        arr = np.asarray(indices).reshape(-1)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"indices must be integers, got dtype {arr.dtype}")
        items = [self[int(i)] for i in arr]
        if not items:
            return torch.empty(0, 3, self.size, self.size)
        return torch.stack(items)

    def __repr__(self) -> str:
        return f"ImageFolderDataset(root={str(self.root)!r}, size={self.size}, n={len(self)}, flip={self.flip})"

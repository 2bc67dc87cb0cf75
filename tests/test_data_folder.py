"""Image-folder dataset on real files: formats, modes, resize + centre crop, flips, clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from blobgan_lab.data import ImageFolderDataset, ImageReadError, make_dataset


def _stripes(width, height, colours):
    """RGB image made of equal vertical stripes."""
    arr = np.zeros((height, width, 3), dtype=np.uint8)
    step = width // len(colours)
    for k, c in enumerate(colours):
        arr[:, k * step:(k + 1) * step] = c
    return Image.fromarray(arr)


@pytest.fixture
def photo_dir(tmp_path):
    root = tmp_path / "photos"
    (root / "nested" / "deeper").mkdir(parents=True)
    _stripes(96, 32, [(255, 0, 0), (0, 255, 0), (0, 0, 255)]).save(root / "wide.png")
    Image.fromarray(np.full((80, 50), 128, dtype=np.uint8), mode="L").save(root / "nested" / "gray.JPG")
    rgba = np.zeros((40, 40, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, :20, 3] = 255                 # left half opaque red, right half fully transparent
    Image.fromarray(rgba, mode="RGBA").save(root / "nested" / "deeper" / "alpha.png")
    Image.fromarray(np.full((30, 30, 3), 60, dtype=np.uint8)).save(root / "plain.bmp")
    Image.fromarray(np.full((30, 45, 3), 90, dtype=np.uint8)).save(root / "photo.webp")
    (root / "notes.txt").write_text("not an image")
    return root


def test_finds_images_recursively_any_case(photo_dir):
    ds = ImageFolderDataset(photo_dir, 16)
    names = sorted(p.name for p in ds.files)
    assert names == ["alpha.png", "gray.JPG", "photo.webp", "plain.bmp", "wide.png"]
    assert len(ds) == 5


def test_items_are_centre_crops_in_range(photo_dir):
    ds = ImageFolderDataset(photo_dir, 16)
    for i in range(len(ds)):
        item = ds[i]
        assert item.shape == (3, 16, 16) and item.dtype == torch.float32
        assert item.min() >= -1.0 and item.max() <= 1.0
    wide = ds[[p.name for p in ds.files].index("wide.png")]
    # 96x32 -> 48x16 -> the middle 16 columns: only the green stripe survives the centre crop.
    centre = wide[:, :, 2:14]
    assert (centre[1] > 0.9).all() and (centre[0] < -0.9).all() and (centre[2] < -0.9).all()


def test_grayscale_and_transparency(photo_dir):
    ds = ImageFolderDataset(photo_dir, 20)
    names = [p.name for p in ds.files]
    gray = ds[names.index("gray.JPG")]
    torch.testing.assert_close(gray[0], gray[1])
    torch.testing.assert_close(gray[1], gray[2])
    alpha = ds[names.index("alpha.png")]
    assert (alpha[:, :, -3:] > 0.99).all()                  # transparent -> white
    assert (alpha[0, :, :3] > 0.5).all() and (alpha[1, :, :3] < -0.9).all()   # opaque red kept


def test_flip_augmentation(photo_dir):
    plain = ImageFolderDataset(photo_dir, 16)
    flipping = ImageFolderDataset(photo_dir, 16, flip=True)
    index = [p.name for p in plain.files].index("alpha.png")
    reference = plain[index]
    torch.manual_seed(0)
    seen = {bool(torch.equal(flipping[index], reference)) for _ in range(20)}
    assert seen == {True, False}
    torch.manual_seed(0)
    for _ in range(20):
        item = flipping[index]
        assert torch.equal(item, reference) or torch.equal(item, reference.flip(-1))


def test_batch_and_cache(photo_dir):
    ds = ImageFolderDataset(photo_dir, 12, cache=True)
    batch = ds.batch([0, 3, 3])
    assert batch.shape == (3, 3, 12, 12)
    torch.testing.assert_close(batch[1], ds[3])
    assert make_dataset(str(photo_dir), size=12, seed=0).files == ds.files


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ImageFolderDataset(tmp_path / "nope", 16)


def test_folder_is_a_file(tmp_path):
    f = tmp_path / "file.png"
    f.write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        ImageFolderDataset(f, 16)


def test_empty_folder_lists_extensions(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(ValueError, match=r"no images found.*\.jpeg.*\.png.*\.webp"):
        ImageFolderDataset(tmp_path, 16)


def test_unreadable_image_names_the_file(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    ds = ImageFolderDataset(tmp_path, 8)
    with pytest.raises(ImageReadError, match="broken.jpg"):
        ds.batch(range(len(ds)))


def test_bad_size():
    with pytest.raises(ValueError, match="size"):
        ImageFolderDataset(".", 0)

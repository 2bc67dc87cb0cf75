"""Procedural bedrooms: determinism, shapes, labels that agree with the object list, perspective."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from blobgan_lab.data import (
    DEFAULT_ROOMS_LENGTH,
    LABEL_NAMES,
    OBJECT_KINDS,
    SURFACE_KINDS,
    RoomDataset,
    make_dataset,
    render_rooms,
    save_samples,
)

FLOOR_KINDS = ("bed", "rug", "nightstand", "wardrobe")


@pytest.fixture(scope="module")
def batch64():
    return render_rooms(np.arange(96), size=64, seed=7)


def test_kind_tables():
    assert SURFACE_KINDS == ("floor", "back_wall", "left_wall", "right_wall", "ceiling")
    for kind in ("bed", "pillow", "window", "lamp", "painting", "rug", "nightstand", "wardrobe",
                 "ceiling_light"):
        assert kind in OBJECT_KINDS
    assert LABEL_NAMES == SURFACE_KINDS + OBJECT_KINDS


def test_shapes_and_dtypes(batch64):
    b = batch64
    assert b.images.shape == (96, 64, 64, 3) and b.images.dtype == np.uint8
    assert b.labels.shape == (96, 64, 64) and b.labels.dtype == np.int16
    assert b.labels.min() >= 0 and b.labels.max() < len(LABEL_NAMES)
    assert b.vanishing_points.shape == (96, 2) and b.vanishing_points.dtype == np.float32
    assert len(b.objects) == 96
    for objs in b.objects:
        for o in objs:
            assert o["kind"] in OBJECT_KINDS and LABEL_NAMES[o["label"]] == o["kind"]
            x0, y0, x1, y1 = o["bbox"]
            assert 0.0 <= x0 <= x1 <= 1.0 and 0.0 <= y0 <= y1 <= 1.0
            assert all(0.0 <= c <= 1.0 for c in o["centre"])
            assert all(0.0 <= c <= 1.0 for c in o["colour"]) and len(o["colour"]) == 3
            assert o["depth"] > 0 and o["pixels"] >= 0


def test_rooms_vary_and_are_furnished(batch64):
    b = batch64
    kinds = [{o["kind"] for o in objs if o["pixels"] > 0} for objs in b.objects]
    assert sum("bed" in k for k in kinds) > 0.75 * len(kinds)
    for kind in OBJECT_KINDS:            # every kind shows up somewhere, none is everywhere
        count = sum(kind in k for k in kinds)
        assert 0 < count < len(kinds), kind
    # Every surface is visible in most rooms, and images differ.
    for label in range(len(SURFACE_KINDS)):
        assert (b.labels == label).any(axis=(1, 2)).mean() > 0.7
    assert len({img.tobytes() for img in b.images}) == len(b.images)


def test_same_index_same_image_whatever_the_batch(batch64):
    alone = render_rooms([70], size=64, seed=7)
    mixed = render_rooms([3, 70, 1000, 5], size=64, seed=7)
    np.testing.assert_array_equal(alone.images[0], batch64.images[70])
    np.testing.assert_array_equal(mixed.images[1], batch64.images[70])
    np.testing.assert_array_equal(mixed.images[0], batch64.images[3])
    np.testing.assert_array_equal(mixed.labels[1], batch64.labels[70])
    assert mixed.objects[1] == batch64.objects[70]
    other_seed = render_rooms([70], size=64, seed=8)
    assert not np.array_equal(other_seed.images[0], alone.images[0])


def test_labels_agree_with_objects(batch64):
    b = batch64
    h = b.labels.shape[1]
    for i, objs in enumerate(b.objects):
        for kind in OBJECT_KINDS:
            label = LABEL_NAMES.index(kind)
            mask = b.labels[i] == label
            same = [o for o in objs if o["kind"] == kind]
            assert mask.sum() == sum(o["pixels"] for o in same)
            if not mask.any():
                continue
            # Every labelled pixel lies in the (1 px padded) box of some object of that kind.
            ys, xs = np.nonzero(mask)
            inside = np.zeros(len(ys), dtype=bool)
            for o in same:
                x0, y0, x1, y1 = (v * h for v in o["bbox"])
                inside |= (xs + 0.5 >= x0 - 1) & (xs + 0.5 <= x1 + 1) & (ys + 0.5 >= y0 - 1) & (ys + 0.5 <= y1 + 1)
            assert inside.all(), (i, kind)


def test_floor_objects_below_horizon_ceiling_light_above(batch64):
    b = batch64
    for i, objs in enumerate(b.objects):
        horizon = b.vanishing_points[i, 1]
        floor_rows = np.nonzero((b.labels[i] == LABEL_NAMES.index("floor")).any(axis=1))[0]
        assert floor_rows.size == 0 or (floor_rows.min() + 1) / 64 > horizon
        for o in objs:
            x0, y0, x1, y1 = o["bbox"]
            if o["kind"] == "rug":
                assert y0 > horizon
            if o["kind"] in FLOOR_KINDS:
                assert y1 > horizon          # it touches the floor below eye level
            if o["kind"] == "ceiling_light":
                assert y1 < horizon


def test_anti_aliased_and_resolution_consistent():
    small = render_rooms([11, 12], size=64, seed=2).images.astype(np.float64)
    large = render_rooms([11, 12], size=256, seed=2).images.astype(np.float64)
    pooled = large.reshape(2, 64, 4, 64, 4, 3).mean(axis=(2, 4))
    # Same scene at both sizes, and edges at 64 px carry the partial coverage a 4x4 supersample gives.
    assert np.abs(small - pooled).mean() < 3.0
    edge_colours = [len(np.unique(img.reshape(-1, 3), axis=0)) for img in small.astype(np.uint8)]
    assert min(edge_colours) > 200


def test_dataset_items_and_batches():
    ds = RoomDataset(10, size=32, seed=3)
    assert len(ds) == 10
    item = ds[4]
    assert item.shape == (3, 32, 32) and item.dtype == torch.float32
    assert item.min() >= -1.0 and item.max() <= 1.0
    batch = ds.batch([4, 0, 9])
    assert batch.shape == (3, 3, 32, 32)
    torch.testing.assert_close(batch[0], item, rtol=0, atol=0)
    torch.testing.assert_close(ds[-1], ds[9], rtol=0, atol=0)
    expected = render_rooms([4], size=32, seed=3).images[0]
    torch.testing.assert_close(item, torch.from_numpy(expected).permute(2, 0, 1).float() / 127.5 - 1.0)
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(IndexError):
        ds.batch([3, 10])


def test_background_threads_render_the_same_rooms():
    ds = RoomDataset(100, size=32, seed=5)
    threads_before = torch.get_num_threads()
    expected = [ds.batch([i, i + 1]) for i in range(0, 8, 2)]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda i: ds.batch([i, i + 1]), range(0, 8, 2)))
    for e, g in zip(expected, got):
        assert torch.equal(e, g)
    assert torch.get_num_threads() == threads_before


def test_empty_request():
    b = render_rooms([], size=32)
    assert b.images.shape == (0, 32, 32, 3) and b.labels.shape == (0, 32, 32) and b.objects == []
    assert RoomDataset(size=32).batch([]).shape == (0, 3, 32, 32)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="size"):
        render_rooms([0], size=8)
    with pytest.raises(ValueError, match="indices"):
        render_rooms([-1])
    with pytest.raises(ValueError, match="indices"):
        render_rooms([[0, 1]])
    with pytest.raises(ValueError, match="length"):
        RoomDataset(0)


def test_make_dataset_specs(tmp_path):
    ds = make_dataset("rooms", size=32, seed=1)
    assert isinstance(ds, RoomDataset) and len(ds) == DEFAULT_ROOMS_LENGTH and ds.seed == 1
    assert len(make_dataset("rooms:25", size=32, seed=0)) == 25
    with pytest.raises(ValueError, match="rooms:N"):
        make_dataset("rooms:lots", size=32, seed=0)
    with pytest.raises(FileNotFoundError, match="neither"):
        make_dataset(str(tmp_path / "missing"), size=32, seed=0)


def test_save_samples_writes_a_grid(tmp_path):
    path = save_samples(tmp_path / "grid.png", n=6, size=32, seed=0)
    with Image.open(path) as img:
        assert img.size == (3 * 34 + 2, 2 * 34 + 2) and img.mode == "RGB"

"""Quality metrics: SWD on Laplacian-pyramid patches, edit locality, blob ownership and its labeller."""

import math

import numpy as np
import pytest
import torch

from blobgan_core.edits import hide_blob
from blobgan_core.layout import Layout
from blobgan_lab.data import LABEL_NAMES, OBJECT_KINDS, render_rooms
from blobgan_lab.metrics import locality, object_follow, ownership, patch_tracker, segmenter, swd


@pytest.fixture(scope="module")
def rooms():
    """Two disjoint sets of 48 real rooms at 64 px."""
    return (render_rooms(np.arange(48), size=64), render_rooms(np.arange(10_000, 10_048), size=64))


def blurred(images: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = swd.pyramid_up(swd.pyramid_down(x))
    return x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


# -- SWD ---------------------------------------------------------------------------------------------

def test_pyramid_levels_and_exact_reconstruction():
    assert swd.pyramid_levels(64) == [64, 32, 16]
    assert swd.pyramid_levels(16) == [16]
    x = torch.randn(2, 3, 64, 64) * 50
    levels = swd.laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]
    torch.testing.assert_close(swd.reconstruct(levels), x, atol=1e-3, rtol=0)
    # the detail levels of a constant image are zero and its residual is the constant
    flat = swd.laplacian_pyramid(torch.full((1, 3, 32, 32), 7.0))
    assert flat[0].abs().max() < 1e-5 and torch.allclose(flat[-1], torch.full_like(flat[-1], 7.0))
    with pytest.raises(ValueError, match="power of two"):
        swd.pyramid_levels(48)


def test_patches_are_the_pixels_at_the_drawn_places():
    level = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).view(2, 3, 16, 16)
    patches = swd.sample_patches(level, np.random.default_rng(5), patches_per_image=4)
    assert patches.shape == (8, 3, 7, 7)
    rng = np.random.default_rng(5)
    ys, xs = rng.integers(0, 10, size=(2, 4)), rng.integers(0, 10, size=(2, 4))
    for i in range(2):
        for p in range(4):
            expected = level[i, :, ys[i, p]:ys[i, p] + 7, xs[i, p]:xs[i, p] + 7].numpy()
            np.testing.assert_array_equal(patches[i * 4 + p], expected)


def test_descriptors_are_standardised_per_channel(rooms):
    d = swd.image_descriptors(rooms[0].images[:8], seed=0)
    assert d.sides == [64, 32, 16] and d.size == 8 * 128
    per_channel = d.levels[0].reshape(-1, 3, 49)
    np.testing.assert_allclose(per_channel.mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(per_channel.std(axis=(0, 2)), 1, atol=1e-3)


def test_swd_is_zero_for_identical_sets_and_grows_with_the_shift(rooms):
    real_a, real_b = rooms
    a = swd.image_descriptors(real_a.images, seed=1)
    table = swd.swd_table(a, {
        "same": a,
        "other_real": swd.image_descriptors(real_b.images, seed=2),
        "blurred": swd.image_descriptors(blurred(real_b.images), seed=2),
    })
    assert table["same"]["mean"] == 0.0
    assert all(v == 0.0 for v in table["same"]["levels"].values())
    assert 0 < table["other_real"]["mean"] < table["blurred"]["mean"]
    # blurring removes fine detail: the finest level tells the sets apart most clearly
    assert table["other_real"]["levels"][64] < table["blurred"]["levels"][64] / 2
    assert table["blurred"]["levels"][64] > 2 * table["blurred"]["levels"][16]


def test_swd_ignores_a_global_colour_scale_but_not_structure(rooms):
    images = rooms[0].images
    dimmer = (images.astype(np.float32) * 0.5 + 20).round().astype(np.uint8)
    a = swd.image_descriptors(images, seed=3)
    table = swd.swd_table(a, {"dimmer": swd.image_descriptors(dimmer, seed=3),
                              "other": swd.image_descriptors(rooms[1].images, seed=3)})
    # per-set standardisation absorbs a global gain and offset (up to 8-bit rounding)
    assert table["dimmer"]["mean"] < 0.2 * table["other"]["mean"]


def test_sliced_wasserstein_on_known_distributions():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 6)).astype(np.float32)
    b = rng.standard_normal((4000, 6)).astype(np.float32)
    near, far = swd.sliced_wasserstein(a, [b + 0.2, b + 1.0], seed=0)
    assert near < far
    # a pure shift s: each projection moves by <u, s>, so SWD = E|<u, s>| over unit u in 6-D,
    # = |s| Gamma(3) / (sqrt(pi) Gamma(3.5)) for s = (1, ..., 1)
    (pure,) = swd.sliced_wasserstein(a, [a + 1.0], seed=0, n_directions=512)
    assert pure == pytest.approx(np.sqrt(6) * math.gamma(3) / (math.sqrt(math.pi) * math.gamma(3.5)), rel=0.05)
    # seeded: the same call gives the same number
    assert swd.sliced_wasserstein(a, [b], seed=4) == swd.sliced_wasserstein(a, [b], seed=4)
    with pytest.raises(ValueError, match="must match the reference"):
        swd.sliced_wasserstein(a, [b[:10]])


# -- edit locality -----------------------------------------------------------------------------------

def test_moving_a_hidden_blob_changes_nothing(tiny_model):
    layout = hide_blob(tiny_model.sample_layout(seed=0), 1)
    (result,) = locality.measure_moves(tiny_model, layout, [(1, 6, 3)])
    assert result.total_change == 0 and result.inside_change == 0
    assert math.isnan(result.share)
    summary = locality.summarize([result], tiny_model.resolution)
    assert summary == {"moves": 1, "moves_with_change": 0}


def test_plan_moves_skips_hidden_blobs_and_stays_in_the_picture(tiny_model):
    layout = hide_blob(tiny_model.sample_layout(seed=3), 2)
    res = tiny_model.resolution
    moves = locality.plan_moves(layout, res, np.random.default_rng(0))
    assert moves and 2 not in [k for k, _, _ in moves]
    for k, dx, dy in moves:
        assert abs(math.hypot(dx, dy) - locality.MOVE_FRACTION * res) <= 1
        assert 0 <= float(layout.xs[0, k]) + dx / res <= 1 and 0 <= float(layout.ys[0, k]) + dy / res <= 1


def test_locality_share_matches_its_definition(tiny_model):
    layout = tiny_model.sample_layout(seed=1, truncation=0.4)
    res = tiny_model.resolution
    k, dx, dy = 0, 4, -2
    (result,) = locality.measure_moves(tiny_model, layout, [(k, dx, dy)], noise_seed=1)
    moved = locality.move_layout(layout, k, dx, dy, res)
    with torch.no_grad():
        before = tiny_model.render(layout, noise=1)
        after = tiny_model.render(moved, noise=1)
    change = ((after.clamp(-1, 1) - before.clamp(-1, 1)).abs() * 127.5).sum(1)[0]
    region = locality.footprints(layout, res)[0, k] | locality.footprints(moved, res)[0, k]
    assert result.total_change == pytest.approx(float(change.sum()), rel=1e-4)
    assert result.share == pytest.approx(float(change[region].sum() / change.sum()), rel=1e-4)
    assert result.area == pytest.approx(float(region.float().mean()))


def test_blob_moves_change_mostly_their_own_region(tiny_model):
    """Even untrained, the decoder is convolutional: the change concentrates around the moved blob."""
    results = []
    for seed in range(3):
        layout = tiny_model.sample_layout(seed=seed, truncation=0.4)
        moves = locality.plan_moves(layout, tiny_model.resolution, np.random.default_rng(seed))
        results += locality.measure_moves(tiny_model, layout, moves, noise_seed=seed, scene=seed)
    summary = locality.summarize(results, tiny_model.resolution)
    assert summary["moves_with_change"] == len(results) > 3
    assert summary["share_mean"] > summary["area_mean"] + 0.2
    assert summary["change_inside_per_channel"] > summary["change_outside_per_channel"]


def test_shift_image_moves_pixels_and_marks_the_sources():
    img = torch.arange(16.0).view(1, 4, 4)
    out, valid = locality.shift_image(img, 1, -1)
    assert out[0, 0, 1] == img[0, 1, 0] and out[0, 2, 3] == img[0, 3, 2]
    assert not valid[3].any() and not valid[:, 0].any() and valid[:3, 1:].all()


def test_carry_is_one_when_the_content_moves_exactly():
    """A 'decoder' that paints each blob's footprint in a fixed colour moves its content exactly."""

    class Painter:
        resolution = 32

        def render(self, layout, noise=None):
            alpha = locality.layout_alphas(layout, 32)                       # [N,K+1,S,S]
            colours = torch.tensor([[-1.0, -1, -1], [1, 0, -1], [0, 1, 1]])[: alpha.shape[1]]
            return torch.einsum("nkhw,kc->nchw", alpha, colours)

    layout = Layout(xs=torch.tensor([[0.3, 0.7]]), ys=torch.tensor([[0.4, 0.6]]), sizes=torch.tensor([[0.0, 3, 3]]),
                    covs=torch.eye(2).expand(1, 2, 2, 2) * 0.004, features=torch.zeros(1, 3, 1),
                    spatial_style=torch.zeros(1, 3, 1))
    (result,) = locality.measure_moves(Painter(), layout, [(0, 3, 2)])
    assert result.carry_pixels > 10
    # edge pixels with partial alpha near the other blob or the border may differ slightly
    assert locality.summarize([result], 32)["carry"] > 0.9


# -- ownership ---------------------------------------------------------------------------------------

def test_ownership_with_true_labels_as_owners(rooms):
    """Let blob k own exactly the pixels of label k: every visible blob's kind is its label, purely."""
    real = rooms[0]
    labels = torch.from_numpy(real.labels.astype(np.int64))
    tally = ownership.OwnershipTally(n_blobs=len(LABEL_NAMES))
    tally.add(labels + 1, labels)
    summary = tally.summary()
    for b in summary["per_blob"]:
        if b["visible_rate"] > 0:
            assert b["top_kinds"][0] == [LABEL_NAMES[b["blob"]], 1.0] and b["purity"] == 1.0
    assert summary["object_concentration"] == 1.0
    # object blobs per scene: object kinds that own >= 1 % of the picture
    pixels = 64 * 64
    counts = [sum(int((lab == LABEL_NAMES.index(k)).sum()) >= 0.01 * pixels for k in OBJECT_KINDS)
              for lab in real.labels]
    assert summary["object_blobs_per_scene"] == pytest.approx(np.mean(counts))


def test_a_blob_over_the_bed_owns_a_bed(rooms):
    """Real procedural room, one blob laid over the bed's box: its kind, from true labels, is 'bed'."""
    real = rooms[0]
    i, bed = next((i, o) for i, objs in enumerate(real.objects) for o in objs
                  if o["kind"] == "bed" and o["pixels"] > 600)
    x0, y0, x1, y1 = bed["bbox"]
    s = 2.0   # the half-opacity ellipse is d^2 = s: half-axes 0.3 x the box
    cov = torch.diag(torch.tensor([(0.3 * (x1 - x0)) ** 2 / s, (0.3 * (y1 - y0)) ** 2 / s]))
    layout = Layout(xs=torch.tensor([[(x0 + x1) / 2, 0.5]]), ys=torch.tensor([[(y0 + y1) / 2 + 0.02, 0.5]]),
                    sizes=torch.tensor([[0.0, s, -100.0]]), covs=cov.expand(1, 2, 2, 2).clone(),
                    features=torch.zeros(1, 3, 1), spatial_style=torch.zeros(1, 3, 1))
    owner = ownership.owner_map(layout, 64)
    tally = ownership.OwnershipTally(n_blobs=2)
    tally.add(owner, torch.from_numpy(real.labels[i:i + 1].astype(np.int64)))
    summary = tally.summary()
    assert summary["per_blob"][0]["top_kinds"][0][0] == "bed"
    assert summary["per_blob"][0]["object_rate"] == 1.0
    assert summary["per_blob"][1]["visible_rate"] == 0.0      # the hidden blob owns nothing
    assert summary["visible_blobs_per_scene"] == 1 and summary["object_blobs_per_scene"] == 1
    # the per-scene kinds the locality split uses agree with the tally
    kinds = ownership.blob_kinds(owner, torch.from_numpy(real.labels[i:i + 1].astype(np.int64)), 2)
    assert kinds.tolist() == [[LABEL_NAMES.index("bed"), -1]]


def test_carry_split_by_group_pools_each_group_alone():
    def move(blob, carried, stayed, change=1.0):
        return locality.MoveResult(scene=0, blob=blob, dx_px=1, dy_px=0, total_change=change, inside_change=change / 2,
                                   area=0.1, carried_error=carried, stayed_error=stayed, carry_pixels=5)

    results = [move(0, 1.0, 10.0), move(1, 3.0, 10.0), move(2, 30.0, 10.0), move(3, 0.0, 0.0, change=0.0)]
    groups = locality.summarize_groups(results, lambda r: "object" if r.blob < 2 else "surface")
    assert groups["object"] == {"moves": 2, "share_mean": 0.5, "carry": pytest.approx(0.8)}
    assert groups["surface"]["moves"] == 1 and groups["surface"]["carry"] == pytest.approx(-2.0)
    assert locality.summarize(results, 32)["carry"] == pytest.approx(1 - 34 / 30)   # pooled over all three


def test_ownership_rejects_mismatched_maps():
    tally = ownership.OwnershipTally(n_blobs=2)
    with pytest.raises(ValueError, match="same shape"):
        tally.add(torch.zeros(1, 8, 8, dtype=torch.long), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="owner ids"):
        tally.add(torch.full((1, 4, 4), 5), torch.zeros(1, 4, 4, dtype=torch.long))


# -- the labeller ------------------------------------------------------------------------------------

def test_label_accuracy_definitions():
    truth = torch.zeros(1, 10, 10, dtype=torch.long)
    truth[0, :, 5:] = 5                                 # half floor, half bed
    predicted = truth.clone()
    predicted[0, :8, 5:] = 0                            # 40 of the 50 bed pixels called floor
    acc = segmenter.label_accuracy(predicted, truth)
    assert acc["pixel_accuracy"] == pytest.approx(0.6)
    assert acc["class_recall"] == {"floor": 1.0, "bed": pytest.approx(0.2)}
    assert acc["regions"] == 2 and acc["region_accuracy"] == 0.5    # bed's majority is now floor


def test_shipped_segmenter_labels_real_rooms(rooms):
    net = segmenter.load_segmenter()
    real = rooms[1]
    labels, confidence = segmenter.segment(net, segmenter.rooms_as_input(real.images))
    assert labels.shape == (48, 64, 64) and confidence.min() > 0 and confidence.max() <= 1
    acc = segmenter.label_accuracy(labels, torch.from_numpy(real.labels.astype(np.int64)))
    assert acc["pixel_accuracy"] > 0.85 and acc["region_accuracy"] > 0.85
    assert acc["class_recall"]["bed"] > 0.85


# -- object follow -----------------------------------------------------------------------------------

BED, RUG = LABEL_NAMES.index("bed"), LABEL_NAMES.index("rug")


def test_connected_regions_are_eight_connected():
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[0:2, 0:2] = True
    mask[2, 2] = True                     # touches the first square at a corner only
    mask[5:7, 4:8] = True
    regions = object_follow.connected_regions(mask)
    assert sorted(int(r.sum()) for r in regions) == [5, 8]
    assert torch.equal(torch.stack(regions).sum(0).bool(), mask)
    assert object_follow.connected_regions(torch.zeros(4, 4, dtype=torch.bool)) == []


def test_find_objects_owners_main_first_and_small_regions_skipped():
    labels = torch.zeros(20, 20, dtype=torch.long)
    owner = torch.zeros(20, 20, dtype=torch.long)
    labels[2:12, 2:12] = BED               # 100 px: blob 4 owns 70, blob 1 owns 25, blob 6 owns 5
    owner[2:9, 2:12], owner[9:12, 2:12] = 5, 2
    owner[11, 2:7] = 7
    labels[15:17, 15:17] = RUG             # 4 px = 1 % of 400: kept
    owner[15:17, 15:17] = 3
    labels[0, 18:20] = RUG                 # 2 px: below 1 %
    objects = object_follow.find_objects(labels, owner)
    assert [(LABEL_NAMES[o.kind], o.owners) for o in objects] == [("bed", [4, 1]), ("rug", [2])]
    bed = objects[0]
    assert bed.box == (2, 2, 11, 11) and bed.centroid == pytest.approx((6.5, 6.5))


def test_follow_is_the_fraction_of_the_shift_the_object_went():
    labels = torch.zeros(32, 32, dtype=torch.long)
    labels[10:16, 8:14] = BED
    owner = torch.ones(32, 32, dtype=torch.long)
    (bed,) = object_follow.find_objects(labels, owner)
    moved = torch.roll(labels, 4, dims=1)                 # all the way
    assert object_follow.follow_of(moved, bed, 4, 0) == pytest.approx(1.0)
    assert object_follow.follow_of(labels, bed, 4, 0) == pytest.approx(0.0)      # stayed
    half = torch.roll(labels, 2, dims=1)
    assert object_follow.follow_of(half, bed, 4, 0) == pytest.approx(0.5)
    assert object_follow.follow_of(torch.roll(labels, -3, dims=0), bed, 0, -3) == pytest.approx(1.0)
    far = labels.clone()
    far[26:30, 26:30] = BED                               # another bed outside the search box is ignored
    assert object_follow.follow_of(far, bed, 4, 0) == pytest.approx(0.0)
    assert object_follow.follow_of(torch.zeros_like(labels), bed, 4, 0) is None  # lost
    assert object_follow.drift_of(torch.roll(labels, 1, dims=0), bed) == pytest.approx(1.0)


def test_follow_summary_splits_axes_and_counts_lost_objects():
    def result(direction, follow, lost=False, variant="owners"):
        return object_follow.FollowResult(0, "bed", direction, variant, follow, lost, [0.5, 2.0], 1, [4.0])

    results = [result("left", 1.0), result("right", 0.5), result("up", 0.0, lost=True), result("down", 0.4),
               result("left", 0.2, variant="main owner")]
    summary = object_follow.summarize(results)
    owners = summary["owners"]
    assert owners["moves"] == 4 and owners["objects_lost"] == 1
    assert owners["follow"] == pytest.approx(0.475)
    assert owners["follow_horizontal"] == pytest.approx(0.75) and owners["follow_vertical"] == pytest.approx(0.2)
    assert owners["by_kind"]["bed"] == {"moves": 4, "horizontal": pytest.approx(0.75), "vertical": pytest.approx(0.2)}
    assert owners["others"] == 8 and owners["others_lost"] == 4
    assert owners["others_drift_median_px"] == pytest.approx(1.25) and owners["others_within_1px"] == 0.5
    assert owners["shared"] == 4 and owners["shared_drift_median_px"] == 4.0
    assert summary["main owner"]["moves"] == 1


def test_default_model_objects_follow_their_blobs():
    """The shipped model's objects go most of the way with their blobs (measured 0.84 sideways at step
    30,945; a model whose blobs did not carry objects would score near 0)."""
    from blobgan_core import load_model

    model = load_model(device="cpu")
    net = segmenter.load_segmenter()
    results = []
    for seed in range(6):
        layout = model.sample_layout(seed=seed, truncation=0.4)
        results += object_follow.measure_scene(model, net, layout, noise_seed=seed, scene=seed)
    step = round(object_follow.MOVE_FRACTION * model.resolution)
    objects = {(r.scene, r.kind) for r in results}
    assert len(objects) >= 6
    owners = [r for r in results if r.variant == "owners"]     # both variants of every move, in turn
    assert [(r.scene, r.kind, r.direction) for r in owners] == \
        [(r.scene, r.kind, r.direction) for r in results if r.variant == "main owner"]
    summary = object_follow.summarize(results)["owners"]
    assert summary["follow_horizontal"] > 0.5
    assert summary["others_drift_median_px"] < step / 2
    # the floor: the same render twice has no drift at all; new decoder noise moves objects far less
    # than moving a blob does
    layout = model.sample_layout(seed=0, truncation=0.4)
    objects = object_follow.scene_objects(model, net, layout, 0)
    same = object_follow.noise_drift(model, net, layout, objects, 0)
    assert same and set(same) == {0.0}
    assert np.median(object_follow.noise_drift(model, net, layout, objects, 1000)) < 0.5


def test_object_strip_moves_the_largest_objects_blobs_together():
    from blobgan_core import load_model
    from blobgan_lab.metrics import figures

    model = load_model(device="cpu")
    net = segmenter.load_segmenter()
    strip, title = figures.object_strip(model, net, first_seed=0)
    layout = model.sample_layout(seed=0, truncation=0.4)
    with torch.no_grad():
        labels = segmenter.segment(net, model.render(layout, noise=0))[0][0]
    objects = object_follow.find_objects(labels, ownership.owner_map(layout, model.resolution)[0])
    largest = max(objects, key=lambda o: int(o.mask.sum()))
    assert title.startswith(f"scene 0: its {LABEL_NAMES[largest.kind]} (blob {' and '.join(map(str, largest.owners))})")
    expected, blobs = figures.edit_strip(model, layout, noise_seed=0, blobs=largest.owners)
    assert blobs == largest.owners and np.array_equal(strip, expected)
    # 7 steps of render over blob map, 2x: the columns differ, so the blobs did move
    assert strip.shape[1] >= 7 * 2 * model.resolution
    side = 2 * model.resolution
    assert not np.array_equal(strip[:side, :side], strip[:side, -side:])


# -- the independent patch tracker -------------------------------------------------------------------

def test_patch_tracker_finds_integer_shifts_exactly(rooms):
    image = rooms[0].images[3]                                     # uint8 [64,64,3], a real room
    planes = patch_tracker.as_planes(image)
    for dx, dy in ((3, -2), (-5, 4), (0, 0), (7, 1)):
        moved = np.roll(planes, (dy, dx), axis=(1, 2)).astype(np.uint8).transpose(1, 2, 0)
        for point in ((30, 34), (22, 40), (41.0, 28.0)):
            found = patch_tracker.track(image, moved, point, search=9)
            truth = np.array(point) + (dx, dy)
            # the best integer offset is the shift; the parabola through its neighbours (an asymmetric
            # peak) may add a fraction of a pixel: part of the detector's floor
            assert np.array_equal(np.round(found.position), truth) and found.score > 0.999
            assert np.linalg.norm(found.position - truth) < 0.4


def test_patch_tracker_sub_pixel_shifts_and_its_floor(rooms):
    """Fractional shifts (the image translated bilinearly) are found to a fraction of a pixel, better
    than by the best integer offset; floor_error is that error."""
    image = rooms[0].images[5]
    rng = np.random.default_rng(0)
    errors, integer = [], []
    for _ in range(12):
        point = rng.uniform(16, 48, 2)
        shift = rng.uniform(-4, 4, 2)
        errors.append(patch_tracker.floor_error(image, point, shift, search=7))
        moved = patch_tracker.translate(image, shift)
        coarse = patch_tracker.track(image, moved, point, search=7)
        snapped = np.round(coarse.position - point) + point
        integer.append(float(np.linalg.norm(snapped - point - shift)))
    assert np.median(errors) < 0.25 and np.mean(errors) < np.mean(integer)


def test_patch_tracker_window_centre_and_flat_patches():
    size = 32
    yy, xx = np.mgrid[:size, :size]
    blob = np.exp(-((xx - 10) ** 2 + (yy - 12) ** 2) / 8.0)
    image = np.stack([blob, 1 - blob, 0.5 * blob]) * 2 - 1                # [3,H,W] on the official scale
    moved = np.stack([np.roll(c, (3, 8), axis=(0, 1)) for c in image])     # the spot goes to (18, 15)
    found = patch_tracker.track(image, moved, (10, 12), search=3, centre=(17, 14))
    assert abs(found.x - 18) < 0.05 and abs(found.y - 15) < 0.05
    # out of reach of the window: the answer stays inside it
    near = patch_tracker.track(image, moved, (10, 12), search=2)
    assert abs(near.x - 10) <= 2 and abs(near.y - 12) <= 2
    flat = np.zeros((3, size, size))
    assert patch_tracker.track(flat, flat, (16, 16), search=2).contrast < patch_tracker.FLAT_CONTRAST
    assert patch_tracker.search_for((10, 10), (13, 14), 64) == 9          # 5 px drag + 4 px margin
    assert patch_tracker.default_radius(64) == 4 and patch_tracker.default_radius(256) == 16


def test_patch_tracker_shares_no_code_with_the_drag():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(patch_tracker))
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert imported <= {"__future__", "dataclasses", "numpy"}, imported

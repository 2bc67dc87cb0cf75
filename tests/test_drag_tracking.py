import math

import pytest
import torch

from blobgan_core.drag.loop import DEFAULT_TRACK_PRIOR
from blobgan_core.drag.tracking import image_templates, reference_features, track_in_image, track_points


def wave_map(shift=(0.0, 0.0), size: int = 32, channels: int = 16) -> torch.Tensor:
    """Smooth, locally unique features [C,S,S]: sums of plane waves, sampled with the content moved by
    ``shift`` (x, y pixels), so a true displacement is known to sub-pixel precision."""
    g = torch.Generator().manual_seed(0)
    freq = torch.rand(channels, 2, generator=g) * 0.5 + 0.05
    sign = torch.where(torch.rand(channels, 2, generator=g) < 0.5, -1.0, 1.0)
    phase = torch.rand(channels, generator=g) * 2 * math.pi
    grid = torch.arange(size, dtype=torch.float32)
    x = (grid[None, :] - shift[0])[None]
    y = (grid[:, None] - shift[1])[None]
    fx, fy = (freq * sign)[:, 0, None, None], (freq * sign)[:, 1, None, None]
    return torch.sin(fx * x + fy * y + phase[:, None, None])


def test_tracking_finds_an_integer_shift():
    f0 = wave_map()
    handles = torch.tensor([[12.0, 15.0], [20.0, 9.0]])
    refs = reference_features(f0, handles, 32)
    moved = torch.roll(f0, shifts=(-2, 3), dims=(1, 2))          # content moves 3 px right, 2 px up
    found = track_points(moved, refs, handles, radius=4, image_size=32, subpixel=False)
    assert torch.equal(found, handles + torch.tensor([3.0, -2.0]))


def test_tracking_finds_a_subpixel_shift():
    f0 = wave_map()
    handles = torch.tensor([[14.0, 16.0]])
    refs = reference_features(f0, handles, 32)
    shift = torch.tensor([1.4, -0.7])
    found = track_points(wave_map(tuple(shift.tolist())), refs, handles, radius=3, image_size=32)
    assert float((found - handles - shift).norm()) < 0.2
    coarse = track_points(wave_map(tuple(shift.tolist())), refs, handles, 3, 32, subpixel=False)
    assert float((coarse - handles - shift).norm()) > float((found - handles - shift).norm())


def test_tracking_stays_inside_its_window():
    f0 = wave_map()
    handles = torch.tensor([[14.0, 16.0]])
    refs = reference_features(f0, handles, 32)
    found = track_points(torch.roll(f0, shifts=8, dims=2), refs, handles, radius=2, image_size=32)
    assert float((found - handles).abs().max()) <= 2.5


@pytest.mark.parametrize("prior", [0.1, DEFAULT_TRACK_PRIOR])
def test_the_prior_holds_flat_regions_and_leaves_distinctive_matches_alone(prior):
    flat = torch.ones(4, 32, 32)
    handles = torch.tensor([[14.0, 16.0]])
    refs = reference_features(flat, handles, 32)
    predicted = torch.tensor([[17.0, 12.0]])
    assert torch.equal(track_points(flat, refs, predicted, 4, 32, prior=prior), predicted)
    f0 = wave_map()
    refs = reference_features(f0, handles, 32)
    moved = torch.roll(f0, shifts=(-2, 3), dims=(1, 2))
    found = track_points(moved, refs, handles + torch.tensor([[1.0, 0.0]]), 4, 32, subpixel=False, prior=prior)
    assert torch.equal(found, handles + torch.tensor([3.0, -2.0]))


# -- tracking on the render --------------------------------------------------------------------------

def test_image_tracking_finds_integer_and_subpixel_shifts():
    image = wave_map(channels=3)                                   # a smooth "render" [3,32,32]
    handles = torch.tensor([[12.0, 15.0], [20.0, 11.0]])
    templates = image_templates(image, handles, 3)
    moved = torch.roll(image, shifts=(-2, 3), dims=(1, 2))         # content 3 px right, 2 px up
    found, score = track_in_image(moved, templates, handles, torch.tensor([5.0, 5.0]), subpixel=False)
    assert torch.equal(found, handles + torch.tensor([3.0, -2.0])) and bool((score > 0.999).all())
    shift = torch.tensor([1.4, -0.7])
    found, _ = track_in_image(wave_map(tuple(shift.tolist()), channels=3), templates, handles, torch.tensor([3.0, 3.0]))
    assert float((found - handles - shift).norm(dim=-1).max()) < 0.2


def test_image_tracking_searches_only_its_window_and_ignores_brightness():
    image = wave_map(channels=3)
    handles = torch.tensor([[14.0, 16.0]])
    templates = image_templates(image, handles, 3)
    far = torch.roll(image, shifts=8, dims=2)
    found, _ = track_in_image(far, templates, handles, torch.tensor([2.0]))
    assert float((found - handles).abs().max()) <= 2.5
    found, score = track_in_image(image * 0.6 + 0.2, templates, handles, torch.tensor([3.0]))
    assert torch.allclose(found, handles, atol=1e-4) and float(score[0]) > 0.999

"""Decision rules inside the benchmark scripts that write into shipped files."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import drag as drag_benchmark  # noqa: E402  (benchmarks/drag.py)


def rows(**means):
    """Layer-study rows: name=(side, core error, edge error)."""
    out = {}
    for name, (side, core, edge) in means.items():
        layer = name.replace("_", ".")
        out[f"{layer}/core"] = {"mean_px": core, "side": side}
        out[f"{layer}/edge"] = {"mean_px": edge, "side": side}
    out["stay/core"] = {"mean_px": 0.1, "side": 0}    # never a candidate, however low
    return out


def test_the_layer_with_the_lowest_error_wins_when_it_is_clearly_lower():
    study = rows(conv1=(16, 0.9, 1.1), convs_0=(32, 0.5, 0.7), convs_3=(64, 0.8, 1.0))
    assert drag_benchmark.best_layer(study) == "convs.0"


def test_a_tie_goes_to_the_coarser_cheaper_layer():
    # the default model's study at step 33,775: 0.600 against 0.590 px
    study = rows(conv1=(16, 0.44, 0.76), convs_0=(32, 0.50, 0.68), convs_2=(64, 0.49, 0.70))
    assert drag_benchmark.best_layer(study) == "conv1"
    assert drag_benchmark.best_layer(study, tie_px=0.0) == "convs.0"


# -- the drag benchmark's independent detectors ---------------------------------------------------------

def textured(size: int = 64):
    import torch

    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, size // 4, size // 4, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)


def test_patch_detector_scores_no_edit_as_the_drag_length_and_a_translation_near_zero():
    import torch

    image = textured()
    handles, targets = torch.tensor([[30.0, 28.0]]), torch.tensor([[36.0, 31.0]])
    length = float((targets - handles).norm())
    (still,) = drag_benchmark.patch_distances(image, image, handles, targets)
    assert abs(still - length) < 0.05
    moved = drag_benchmark.translate(image, (targets - handles)[0])
    (done,) = drag_benchmark.patch_distances(image, moved, handles, targets)
    (floor,) = drag_benchmark.patch_floor(image, handles, targets)
    assert done < 0.5 and floor < 0.5
    (big,) = drag_benchmark.patch_distances(image, moved, handles, targets, large=True)
    assert big < 0.5


def test_object_detector_counts_only_the_dragged_instance():
    """Two nightstands: the centroid is that of the one in the search box, not of both."""
    import torch

    labels = torch.zeros(64, 64, dtype=torch.long)
    labels[40:48, 4:12] = 5
    labels[40:48, 50:58] = 5
    box = drag_benchmark.search_box((4, 40, 11, 47), torch.tensor([3.4, -2.2]), 64)
    assert box == (2, 36, 16, 49)
    found = drag_benchmark.object_centroid(labels, 5, box)
    assert torch.allclose(found, torch.tensor([7.5, 43.5]))
    assert drag_benchmark.object_centroid(labels, 5, (20, 0, 30, 10)) is None

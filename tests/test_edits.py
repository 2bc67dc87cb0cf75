import math

import pytest
import torch
from conftest import random_model

from blobgan_core.edits import EditError, apply_edits, parse_edits
from blobgan_core.layout import cov_axes


@pytest.fixture
def layout():
    return random_model().sample_layout(seed=7, batch=2, truncation=0)


def test_edits_do_not_mutate_the_input(layout):
    before = {k: v.clone() for k, v in layout.tensors().items()}
    apply_edits(layout, [{"op": "move", "blob": 0, "dx": 0.3, "dy": 0.1}, {"op": "rotate", "blob": 1, "degrees": 30},
                         {"op": "remove", "blob": 2}, {"op": "to_front", "blob": 0}])
    for k, v in before.items():
        assert torch.equal(getattr(layout, k), v), k


def test_move_resize_set_size(layout):
    out, ids = apply_edits(layout, '[{"op":"move","blob":1,"dx":0.1,"dy":-0.2},'
                                   '{"op":"set_size","blob":3,"size":2},{"op":"resize","blob":3,"scale":1.5}]')
    assert ids == [0, 1, 2, 3]
    assert torch.allclose(out.xs[:, 1], layout.xs[:, 1] + 0.1)
    assert torch.allclose(out.ys[:, 1], layout.ys[:, 1] - 0.2)
    assert torch.allclose(out.sizes[:, 4], torch.full((2,), 2 * 1.5 ** 2))
    assert torch.equal(out.xs[:, 0], layout.xs[:, 0])


def test_resize_leaves_hidden_blobs_alone(layout):
    hidden, _ = apply_edits(layout, [{"op": "remove", "blob": 0}])
    out, _ = apply_edits(hidden, [{"op": "resize", "blob": 0, "scale": 2}])
    assert torch.equal(out.sizes, hidden.sizes)


def test_rotate_is_clockwise_on_screen(layout):
    out, _ = apply_edits(layout, [{"op": "reshape", "blob": 0, "aspect": 4.0}])
    a0, _, _ = cov_axes(out.covs[:, 0])
    rot, _ = apply_edits(out, [{"op": "rotate", "blob": 0, "degrees": 30}])
    a1, _, _ = cov_axes(rot.covs[:, 0])
    # angles grow from +x towards +y, which points down: clockwise as seen on screen
    diff = torch.remainder(a1 - a0 + math.pi / 2, math.pi) - math.pi / 2
    assert torch.allclose(diff, torch.full_like(diff, math.radians(30)), atol=1e-4)


def test_reshape_keeps_area_and_changes_aspect(layout):
    out, _ = apply_edits(layout, [{"op": "reshape", "blob": 2, "aspect": 3.0}])
    assert torch.allclose(torch.linalg.det(out.covs[:, 2]), torch.linalg.det(layout.covs[:, 2]), rtol=1e-4)
    _, M0, m0 = cov_axes(layout.covs[:, 2])
    _, M1, m1 = cov_axes(out.covs[:, 2])
    assert torch.allclose(M1 / m1, 9 * M0 / m0, rtol=1e-3)


def test_duplicate_gets_next_id_and_draws_in_front(layout):
    out, ids = apply_edits(layout, [{"op": "duplicate", "blob": 1, "dx": 0.2, "dy": 0},
                                    {"op": "move", "blob": 4, "dx": 0, "dy": 0.1}])
    assert ids == [0, 1, 2, 3, 4] and out.n_blobs == 5
    assert torch.allclose(out.xs[:, 4], layout.xs[:, 1] + 0.2)
    assert torch.allclose(out.ys[:, 4], layout.ys[:, 1] + 0.1)
    assert torch.equal(out.spatial_style[:, 5], layout.spatial_style[:, 2])


def test_depth_order_edits_keep_ids(layout):
    out, ids = apply_edits(layout, [{"op": "to_front", "blob": 0}, {"op": "backward", "blob": 3},
                                    {"op": "move", "blob": 0, "dx": 0.5, "dy": 0}])
    assert ids == [1, 3, 2, 0]
    assert torch.allclose(out.xs[:, 3], layout.xs[:, 0] + 0.5)
    assert torch.equal(out.features[:, 4], layout.features[:, 1])
    assert torch.equal(out.features[:, 0], layout.features[:, 0])  # background stays at the back


def test_restyle_from_source_scene_and_self(layout):
    other = random_model().sample_layout(seed=99, truncation=0)
    out, _ = apply_edits(layout, [{"op": "restyle", "blob": 0, "source_blob": 2}], source=other)
    assert torch.equal(out.spatial_style[:, 1], other.spatial_style[:, 3].expand(2, -1))
    assert torch.equal(out.features[:, 1], layout.features[:, 1])
    out, _ = apply_edits(layout, [{"op": "restyle", "blob": 0, "source_blob": "background", "scene": "self",
                                   "structure": True, "style": False}])
    assert torch.equal(out.features[:, 1], layout.features[:, 0])


@pytest.mark.parametrize("edits, message", [
    ('[{"op":"explode","blob":0}]', "unknown op 'explode'; allowed: move"),
    ('[{"op":"move","blob":7,"dx":0,"dy":0}]', "no blob with id 7; valid ids: 0..3"),
    ('[{"op":"move","blob":0,"dx":"far","dy":0}]', "edit #0 \\(move\\): 'dx' must be a finite number"),
    ('[{"op":"resize","blob":0,"scale":0}]', "'scale' must be a finite number > 0"),
    ('[{"op":"move","blob":0,"dx":0,"dy":0,"speed":1}]', "unknown field"),
    ('[{"op":"move","blob":0,"dx":0}]', "missing field 'dy'"),
    ('{"op":"move"}', "must be a JSON list"),
    ('[{"op":"move",', "not valid JSON"),
    ('[{"op":"restyle","blob":0,"source_blob":9,"scene":"self"}]', "'source_blob' 9 does not exist"),
])
def test_bad_edits_name_the_problem(layout, edits, message):
    with pytest.raises(EditError, match=message):
        apply_edits(layout, edits)


def test_empty_edit_lists():
    assert parse_edits("") == [] and parse_edits("  ") == [] and parse_edits("[]") == []


# -- limits: an edit that would leave a blob unrenderable is refused, naming it ------------------------

@pytest.mark.parametrize("edit, fragment", [
    ({"op": "reshape", "blob": 1, "aspect": 1e5}, "axis ratio"),
    ({"op": "move", "blob": 1, "dx": 1e30, "dy": 0}, "centres must stay"),
    ({"op": "set_size", "blob": 1, "size": 1e30}, "at most"),
    ({"op": "duplicate", "blob": 1, "dx": 0, "dy": -5e3}, "centres must stay"),
])
def test_edits_past_the_limits_are_refused_by_position(layout, edit, fragment):
    lay = layout
    with pytest.raises(EditError, match=rf"edit #1 \({edit['op']}\) would .*{fragment}"):
        apply_edits(lay, [{"op": "move", "blob": 0, "dx": 0.1, "dy": 0}, edit])


def test_repeated_stretching_is_refused_when_it_crosses_the_limit(layout):
    lay = layout
    edits = [{"op": "reshape", "blob": 2, "aspect": 10.0}] * 5
    with pytest.raises(EditError, match=r"edit #(2|3) \(reshape\) would stretch"):
        apply_edits(lay, edits)
    apply_edits(lay, edits[:2])  # an axis ratio of about 100 is fine


def test_deeply_nested_edit_text_is_an_edit_error():
    with pytest.raises(EditError, match="nests too deeply"):
        parse_edits("[" * 100_000 + "]" * 100_000)
    with pytest.raises(EditError, match=r"edit #0 must be an object"):
        parse_edits([[[[[[[[[[[[]]]]]]]]]]]])

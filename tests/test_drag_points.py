import json

import pytest
import torch

from blobgan_core.drag.points import (
    PointsError,
    check_inside,
    parse_drag_points,
    parse_points,
    points_json,
    to_normalized,
    to_pixels,
)


def test_parse_points_reads_editor_json_pairs_and_tensors():
    assert parse_points('[{"x": 10, "y": 20}, {"x": 3.5, "y": 0}]') == [(10.0, 20.0), (3.5, 0.0)]
    assert parse_points("[[1, 2]]") == [(1.0, 2.0)]
    assert parse_points(torch.tensor([[4.0, 5.0]])) == [(4.0, 5.0)]
    for empty in ("", "  ", "[]", None):
        assert parse_points(empty) == []


@pytest.mark.parametrize("text, fragment", [
    ("{", "not valid JSON"),
    ('{"x": 1, "y": 2}', "expected a JSON list"),
    ('[{"x": 1, "y": 2}, {"x": "a", "y": 2}]', "targets[1]"),
    ("[[1, 2, 3]]", "targets[0]"),
    ('[{"x": true, "y": 2}]', "targets[0]"),
    ('[{"x": NaN, "y": 2}]', "targets[0]"),
])
def test_parse_points_errors_name_the_input_and_the_point(text, fragment):
    with pytest.raises(PointsError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_points(text, "targets")


def test_drag_points_canonical_combined_and_pair_forms_agree():
    hs, ts = [(1.0, 2.0), (3.0, 4.0)], [(5.0, 6.0), (7.0, 8.0)]
    canonical = parse_drag_points('[{"x":1,"y":2},{"x":3,"y":4}]', '[{"x":5,"y":6},{"x":7,"y":8}]')
    combined = parse_drag_points(json.dumps({"handles": [[1, 2], [3, 4]], "targets": [[5, 6], [7, 8]]}))
    pairs = parse_drag_points([{"handle": {"x": 1, "y": 2}, "target": {"x": 5, "y": 6}},
                               {"handle": {"x": 3, "y": 4}, "target": {"x": 7, "y": 8}}], "")
    nested = parse_drag_points("[[[1, 2], [5, 6]], [[3, 4], [7, 8]]]", "[]")  # the node's empty default
    assert canonical == combined == pairs == nested == (hs, ts)


def test_drag_points_need_matching_counts_and_at_least_one_pair():
    with pytest.raises(PointsError, match="handles has 2 point.* targets has 1"):
        parse_drag_points("[[1, 2], [3, 4]]", "[[5, 6]]")
    with pytest.raises(PointsError, match="no drag points"):
        parse_drag_points("[]", "[]")
    with pytest.raises(PointsError, match="combined object"):
        parse_drag_points('{"handles": []}')


def test_points_outside_the_image_are_refused():
    check_inside([(0, 0), (32, 32)], 32, "handles")
    with pytest.raises(PointsError, match=r"handles\[1\].*outside the 32x32 image"):
        check_inside([(0, 0), (33, 1)], 32, "handles")


def test_pixel_normalized_round_trip_and_json():
    px = torch.tensor([[16.0, 8.0]])
    assert torch.equal(to_normalized(px, 32), torch.tensor([[0.5, 0.25]]))
    assert torch.equal(to_pixels(to_normalized(px, 32), 32), px)
    text = points_json(torch.tensor([[10.0, 20.456], [1.5, 0.0]]))
    assert text == '[{"x":10,"y":20.46},{"x":1.5,"y":0}]'
    assert parse_points(text) == [(10.0, 20.46), (1.5, 0.0)]

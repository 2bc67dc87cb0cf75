import json
import math

import pytest
import torch
from conftest import random_model

from blobgan_core.layout import Layout, cov_axes, cov_from_axes, covs_from_raw


def test_json_round_trip_is_bit_exact():
    layout = random_model().sample_layout(seed=3, batch=2, truncation=0.3)
    text = layout.to_json()
    json.loads(text)  # plain JSON, storable in a workflow file
    back = Layout.from_json(text)
    for name, t in layout.tensors().items():
        assert torch.equal(getattr(back, name), t), name


def test_json_rejects_foreign_and_truncated_data():
    d = random_model().sample_layout(seed=1).to_json_dict()
    with pytest.raises(ValueError, match="format"):
        Layout.from_json_dict({"tensors": d["tensors"]})
    d["tensors"]["xs"]["shape"] = [1, 99]
    with pytest.raises(ValueError, match="xs"):
        Layout.from_json_dict(d)


def test_shape_mismatch_names_the_field():
    lay = random_model().sample_layout(seed=1)
    with pytest.raises(ValueError, match="sizes"):
        lay.replace(sizes=lay.sizes[:, :-1])


def test_covariance_from_raw_has_fixed_determinant_and_direction():
    raw = torch.tensor([[2.0, -1.0, 0.0, 3.0]])  # a > b, u points along +y
    cov = covs_from_raw(raw, ab_norm=0.02)[0] - 1e-5 * torch.eye(2)
    assert torch.linalg.det(cov).item() == pytest.approx(0.02 ** 2, rel=1e-4)
    angle, major, minor = cov_axes(cov)
    assert abs(math.cos(angle.item())) < 1e-4  # major axis vertical
    assert major.item() / minor.item() == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item()
                                                        / torch.sigmoid(torch.tensor(-1.0)).item(), rel=1e-4)


def test_axes_round_trip():
    torch.manual_seed(0)
    a = torch.randn(5, 2, 2)
    cov = a @ a.transpose(1, 2) + 0.1 * torch.eye(2)
    assert torch.allclose(cov_from_axes(*cov_axes(cov)), cov, atol=1e-5)

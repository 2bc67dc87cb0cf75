"""Python and the widget's JS module (web/js/blob_geometry.js) implement one edit language.

tests/js/fixtures/edit_semantics.json holds what the JS module computes for a fixed scene (the JS
suite checks the file is current); here the Python edits must agree case by case.
"""

import json
from pathlib import Path

import pytest
import torch

from blobgan_core.edits import EditError, apply_edits
from blobgan_core.layout import Layout

FIXTURE = json.loads((Path(__file__).parent / "js" / "fixtures" / "edit_semantics.json").read_text())


def fixture_layout() -> Layout:
    blobs = FIXTURE["scene"]["blobs"]
    k = len(blobs)
    assert [b["id"] for b in blobs] == list(range(k))
    return Layout(
        xs=torch.tensor([[b["x"] for b in blobs]]),
        ys=torch.tensor([[b["y"] for b in blobs]]),
        sizes=torch.tensor([[0.0] + [b["size"] for b in blobs]]),
        covs=torch.tensor([[b["cov"] for b in blobs]]),
        features=torch.randn(1, k + 1, 3),
        spatial_style=torch.randn(1, k + 1, 3),
    )


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: c["name"])
def test_python_edits_match_the_widget(case):
    layout = fixture_layout()
    if "error" in case:
        with pytest.raises(EditError) as err:
            apply_edits(layout, case["edits"], source=layout)
        assert f"edit #{case['error']['edit']}" in str(err.value)
        if case["error"].get("field"):
            assert case["error"]["field"] in str(err.value)
        return
    out, ids = apply_edits(layout, case["edits"], source=layout)
    exp = case["expected"]
    assert ids == exp["order"]
    at = [ids.index(i) for i in range(len(ids))]  # depth index of each blob id
    assert torch.allclose(out.xs[0, at], torch.tensor(exp["xs"]), atol=1e-5)
    assert torch.allclose(out.ys[0, at], torch.tensor(exp["ys"]), atol=1e-5)
    assert torch.allclose(out.sizes[0, 1:][at], torch.tensor(exp["sizes"]), atol=1e-4)
    assert torch.allclose(out.covs[0, at], torch.tensor(exp["covs"]), atol=1e-6)

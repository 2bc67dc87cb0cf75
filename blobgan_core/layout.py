"""The editable scene state: K blobs plus a background, under the official tensor names.

Index conventions (as in the official code): ``xs``/``ys``/``covs`` are per blob, ``[N,K,...]``;
``sizes``/``features``/``spatial_style`` carry the background at index 0, so blob k lives at index
k+1 there. Blob order is depth order: a higher index is drawn in front.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np
import torch

LAYOUT_FORMAT = "blobgan-layout"
LAYOUT_VERSION = 1
TENSOR_FIELDS = ("xs", "ys", "sizes", "covs", "features", "spatial_style")


@dataclass(frozen=True)
class Layout:
    """Blob parameters of a batch of N scenes with K blobs.

    xs, ys:        [N,K]       blob centres in normalized image units (0,0 = top-left, x = column)
    sizes:         [N,K+1]     size logits s; index 0 is the background (unused); s < 0 hides a blob
    covs:          [N,K,2,2]   processed covariance Sigma (already includes the +1e-5 I)
    features:      [N,K+1,d_in]     structure vectors phi (index 0 = background)
    spatial_style: [N,K+1,d_style]  style vectors psi (index 0 = background)
    """

    xs: torch.Tensor
    ys: torch.Tensor
    sizes: torch.Tensor
    covs: torch.Tensor
    features: torch.Tensor
    spatial_style: torch.Tensor

    def __post_init__(self):
        if self.xs.dim() != 2:
            raise ValueError(f"Layout.xs must be [N,K], got shape {list(self.xs.shape)}")
        n, k = self.xs.shape
        expected = {"ys": (n, k), "sizes": (n, k + 1), "covs": (n, k, 2, 2)}
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"Layout.{name} must have shape {list(shape)} for N={n}, K={k}; got {list(got)}")
        for name in ("features", "spatial_style"):
            t = getattr(self, name)
            if t.dim() != 3 or tuple(t.shape[:2]) != (n, k + 1):
                raise ValueError(f"Layout.{name} must be [N,K+1,d] = [{n},{k + 1},d]; got {list(t.shape)}")

    # -- sizes ------------------------------------------------------------------------------------

    @property
    def batch(self) -> int:
        return self.xs.shape[0]

    @property
    def n_blobs(self) -> int:
        return self.xs.shape[1]

    @property
    def device(self) -> torch.device:
        return self.xs.device

    # -- conversions ------------------------------------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in TENSOR_FIELDS}

    def map(self, fn) -> Layout:
        """A new layout with ``fn`` applied to every tensor (e.g. ``lambda t: t.to(device)``)."""
        return Layout(**{name: fn(t) for name, t in self.tensors().items()})

    def to(self, device=None, dtype=None) -> Layout:
        return self.map(lambda t: t.to(device=device, dtype=dtype))

    def detach(self) -> Layout:
        return self.map(lambda t: t.detach())

    def select(self, index) -> Layout:
        """Batch items ``index`` (an int keeps the batch dimension)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return self.map(lambda t: t[index])

    @staticmethod
    def cat(layouts: list[Layout]) -> Layout:
        """Concatenate layouts with the same K along the batch."""
        ks = {lay.n_blobs for lay in layouts}
        if len(ks) != 1:
            raise ValueError(f"cannot batch layouts with different blob counts {sorted(ks)}")
        return Layout(**{n: torch.cat([lay.tensors()[n] for lay in layouts]) for n in TENSOR_FIELDS})

    def replace(self, **changes) -> Layout:
        return dataclasses.replace(self, **changes)

    # -- JSON ------------------------------------------------------------------------------------

    def to_json_dict(self) -> dict:
        """A JSON-safe dict that restores this layout bit for bit (float32 stored as base64)."""
        out = {"format": LAYOUT_FORMAT, "version": LAYOUT_VERSION, "tensors": {}}
        for name, t in self.tensors().items():
            a = t.detach().to("cpu", torch.float32).contiguous().numpy()
            out["tensors"][name] = {
                "shape": list(a.shape),
                "dtype": "float32",
                "data": base64.b64encode(a.astype("<f4").tobytes()).decode("ascii"),
            }
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), separators=(",", ":"))

    @classmethod
    def from_json_dict(cls, d: dict) -> Layout:
        if not isinstance(d, dict) or d.get("format") != LAYOUT_FORMAT:
            raise ValueError(f"not a BlobGAN layout: expected a dict with format={LAYOUT_FORMAT!r}")
        if d.get("version") != LAYOUT_VERSION:
            raise ValueError(f"unsupported layout version {d.get('version')!r}; this pack reads {LAYOUT_VERSION}")
        tensors = d.get("tensors", {})
        missing = [n for n in TENSOR_FIELDS if n not in tensors]
        if missing:
            raise ValueError(f"layout JSON lacks tensors {missing}")
        out = {}
        for name in TENSOR_FIELDS:
            spec = tensors[name]
            shape = [int(s) for s in spec["shape"]]
            if spec.get("dtype") != "float32":
                raise ValueError(f"layout tensor {name}: dtype must be 'float32', got {spec.get('dtype')!r}")
            raw = base64.b64decode(spec["data"], validate=True)
            if len(raw) != 4 * math.prod(shape):
                raise ValueError(f"layout tensor {name}: {len(raw)} bytes do not fit shape {shape}")
            out[name] = torch.from_numpy(np.frombuffer(raw, dtype="<f4").reshape(shape).copy())
        return cls(**out)

    @classmethod
    def from_json(cls, s: str) -> Layout:
        return cls.from_json_dict(json.loads(s))


# -- covariance geometry ---------------------------------------------------------------------------
# The network predicts (a-logit, b-logit, u_x, u_y); the editable form is the processed Sigma. Edits
# (rotate, reshape) and the widget's ellipses work with (angle, A, B), so both directions live here.

COV_EPS = 1e-5  # added to the diagonal by the official code


def covs_from_raw(raw: torch.Tensor, ab_norm: float) -> torch.Tensor:
    """Official covariance from raw network outputs.

    raw: [...,4] = (a-logit, b-logit, u_x, u_y)  ->  Sigma: [...,2,2]
    A = ab_norm*sqrt(a/b), B = ab_norm*sqrt(b/a) along the unit direction u and its normal.
    """
    a = torch.sigmoid(raw[..., 0])
    b = torch.sigmoid(raw[..., 1])
    ab = (a * b).sqrt()
    major = ab_norm * a / ab
    minor = ab_norm * b / ab
    u = raw[..., 2:4]
    u = u / u.norm(dim=-1, keepdim=True)
    c, s = u[..., 0], u[..., 1]
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # [...,2,2], columns u, u_perp
    diag = torch.diag_embed(torch.stack([major, minor], -1))
    eye = torch.eye(2, dtype=raw.dtype, device=raw.device)
    return rot @ diag @ rot.transpose(-1, -2) + COV_EPS * eye


def cov_axes(covs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decompose Sigma: [...,2,2] into (angle [...] in radians, major [...], minor [...]) variances.

    The angle is that of the major axis, measured from +x towards +y (down, in image space).
    """
    a, b, c = covs[..., 0, 0], covs[..., 0, 1], covs[..., 1, 1]
    mean = (a + c) / 2
    half = torch.sqrt(((a - c) / 2) ** 2 + b ** 2)
    angle = 0.5 * torch.atan2(2 * b, a - c)
    return angle, mean + half, (mean - half).clamp_min(1e-12)


def cov_from_axes(angle: torch.Tensor, major: torch.Tensor, minor: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`cov_axes`: Sigma [...,2,2] from an angle and two axis variances."""
    c, s = torch.cos(angle), torch.sin(angle)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return rot @ torch.diag_embed(torch.stack([major, minor], -1)) @ rot.transpose(-1, -2)

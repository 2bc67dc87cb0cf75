"""The blob parameters the drag loop optimizes, in a form that keeps every covariance valid.

Per involved blob: centre (x, y), angle theta, log-aspect a and size logit s, and optionally the
structure vector phi. The covariance is rebuilt as

    Sigma = R(theta) diag(exp(2 (m + a)), exp(2 (m - a))) R(theta)^T

with the log-scale m frozen, so Sigma stays symmetric positive definite and keeps the determinant the
layout network gives every blob (ab_norm^2); the blob's extent changes through s, as in BlobGAN's own
edits. Blobs that are not involved (and the background, and every style vector psi) are not touched:
a free, exact "parameter-space mask".
"""

from __future__ import annotations

import torch

from ..layout import Layout, cov_axes, cov_from_axes

CENTRE_RANGE = (0.0, 1.0)   # the layout network's sigmoid range for blob centres


class BlobParams:
    """Trainable geometry of the blobs ``blobs`` (depth indices) of a one-scene layout."""

    def __init__(self, layout: Layout, blobs: list[int], optimize_features: bool = False):
        if layout.batch != 1:
            raise ValueError(f"the drag takes one scene at a time; got a batch of {layout.batch}")
        self.base = layout.detach()
        self.blobs = list(blobs)
        idx = torch.tensor(self.blobs, dtype=torch.long, device=layout.device)
        self.index = idx
        base = self.base
        angle, major, minor = cov_axes(base.covs[0, idx])
        log_major, log_minor = 0.5 * major.log(), 0.5 * minor.log()
        self.log_scale = (log_major + log_minor) / 2                  # frozen
        self.centre = torch.stack([base.xs[0, idx], base.ys[0, idx]], -1).clone().requires_grad_(True)  # [B,2]
        self.angle = angle.clone().requires_grad_(True)                                       # [B]
        self.log_aspect = ((log_major - log_minor) / 2).clone().requires_grad_(True)          # [B]
        self.size = base.sizes[0, idx + 1].clone().requires_grad_(True)                       # [B]
        self.features0 = base.features[0, idx + 1].clone()                                     # [B,d_in]
        self.features = self.features0.clone().requires_grad_(optimize_features)
        self.optimize_features = optimize_features
        self._feature_rms = self.features0.pow(2).mean(-1, keepdim=True).sqrt()

    def geometry(self) -> list[torch.Tensor]:
        return [self.centre, self.angle, self.log_aspect, self.size]

    def shape_params(self) -> list[torch.Tensor]:
        return [self.angle, self.log_aspect, self.size]

    def layout(self) -> Layout:
        """The full layout with the involved blobs' parameters substituted (differentiable)."""
        base, idx = self.base, self.index
        cov = cov_from_axes(self.angle, torch.exp(2 * (self.log_scale + self.log_aspect)),
                            torch.exp(2 * (self.log_scale - self.log_aspect)))
        xs = base.xs.index_put((torch.zeros_like(idx), idx), self.centre[:, 0])
        ys = base.ys.index_put((torch.zeros_like(idx), idx), self.centre[:, 1])
        covs = base.covs.index_put((torch.zeros_like(idx), idx), cov)
        sizes = base.sizes.index_put((torch.zeros_like(idx), idx + 1), self.size)
        changes = dict(xs=xs, ys=ys, covs=covs, sizes=sizes)
        if self.optimize_features:
            changes["features"] = base.features.index_put((torch.zeros_like(idx), idx + 1), self.features)
        return base.replace(**changes)

    def feature_pull(self) -> torch.Tensor:
        """mean (phi - phi0)^2 over the involved blobs' structure vectors (0 when they are frozen)."""
        return (self.features - self.features0).pow(2).mean()

    @torch.no_grad()
    def frames(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each involved blob's ellipse frame: centres [B,2] and maps M [B,2,2] taking the unit circle to
        its half-opacity outline (Mahalanobis radius sqrt(s)), in normalized units. A point p of the blob
        moves with it as p -> c' + M' M^-1 (p - c)."""
        c, s = torch.cos(self.angle), torch.sin(self.angle)
        rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
        axes = torch.stack([torch.exp(self.log_scale + self.log_aspect),
                            torch.exp(self.log_scale - self.log_aspect)], -1)
        radius = self.size.clamp_min(0.05).sqrt()
        return self.centre.detach().clone(), rot * (axes * radius[:, None])[:, None, :]

    @torch.no_grad()
    def project(self) -> None:
        """After an optimizer step: centres back into the frame, structure vectors back to their RMS
        (the layout network pixel-normalizes them)."""
        self.centre.clamp_(*CENTRE_RANGE)
        if self.optimize_features:
            rms = self.features.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-8)
            self.features.mul_(self._feature_rms / rms)

"""Blob use: which blobs show something, and which surface or object kind each blob tends to carry.

Definitions (at the render resolution):

- A blob *owns* the pixels where its composited alpha is the largest of all K+1 layers (the
  background included): a partition of the picture by which blob's features dominate there.
- A blob is *visible* in a scene when it owns at least ``MIN_VISIBLE_AREA`` (1 %) of the picture.
- A visible blob's *kind* is the most common label (LABEL_NAMES: surfaces and objects) among the
  pixels it owns; its *purity* is that label's share of them. It *carries an object* when its kind is
  one of OBJECT_KINDS.
- *Object concentration*: for every object region (all pixels of one object kind in one picture, at
  least ``MIN_OBJECT_PIXELS``), the share of it owned by the single blob that owns most of it. 1 means
  each object lies inside one blob, so moving that blob can move the whole object.

Labels come from the procedural ground truth for real rooms and from the room segmenter
(``segmenter.py``) for generated images; the caller says which in ``label_source``.
"""

from __future__ import annotations

import numpy as np
import torch

from blobgan_core.layout import Layout
from blobgan_core.splat import layout_alphas

from ..data import LABEL_NAMES, OBJECT_KINDS

MIN_VISIBLE_AREA = 0.01
MIN_OBJECT_PIXELS = 20
N_LABELS = len(LABEL_NAMES)
OBJECT_IDS = [LABEL_NAMES.index(k) for k in OBJECT_KINDS]


def owner_map(layout: Layout, size: int) -> torch.Tensor:
    """Int64 [N,size,size]: 0 where the background dominates, k+1 where blob k does."""
    return layout_alphas(layout.to("cpu", torch.float32), size).argmax(1)


def _joint(owner: torch.Tensor, labels: torch.Tensor, n_blobs: int) -> np.ndarray:
    """[K+1, N_LABELS] histogram of (owner, label) over the pixels of one scene."""
    k1 = n_blobs + 1
    joint = torch.bincount(owner.reshape(-1) * N_LABELS + labels.reshape(-1), minlength=k1 * N_LABELS)
    return joint.view(k1, N_LABELS).numpy()


def _kinds(joint: np.ndarray, min_pixels: float) -> np.ndarray:
    """[K]: each blob's kind from a scene's joint histogram, -1 where it owns fewer than min_pixels."""
    owned = joint[1:].sum(1)
    return np.where(owned >= min_pixels, joint[1:].argmax(1), -1)


def blob_kinds(owner: torch.Tensor, labels: torch.Tensor, n_blobs: int,
               min_area: float = MIN_VISIBLE_AREA) -> np.ndarray:
    """Int [N,K]: each blob's kind in each scene (an index into LABEL_NAMES), -1 where it is not visible.

    owner: int [N,H,W] from :func:`owner_map`; labels: int [N,H,W] indices into LABEL_NAMES.
    """
    owner, labels = owner.long().cpu(), labels.long().cpu()
    pixels = owner[0].numel()
    return np.stack([_kinds(_joint(o, lab, n_blobs), min_area * pixels) for o, lab in zip(owner, labels)])


class OwnershipTally:
    """Accumulates blob kinds over batches of scenes; ``summary()`` gives the numbers."""

    def __init__(self, n_blobs: int, min_area: float = MIN_VISIBLE_AREA, min_object: int = MIN_OBJECT_PIXELS):
        self.n_blobs = n_blobs
        self.min_area = min_area
        self.min_object = min_object
        self.scenes = 0
        self.kind_counts = np.zeros((n_blobs, N_LABELS), dtype=np.int64)  # [blob, kind]: scenes with that kind
        self.purity_sum = np.zeros(n_blobs)
        self.visible_per_scene: list[int] = []
        self.object_blobs_per_scene: list[int] = []
        self.concentration: dict[str, list[float]] = {k: [] for k in OBJECT_KINDS}

    def add(self, owner: torch.Tensor, labels: torch.Tensor) -> None:
        """owner: int [N,H,W] from :func:`owner_map`; labels: int [N,H,W] indices into LABEL_NAMES."""
        if owner.shape != labels.shape:
            raise ValueError(f"owner map {list(owner.shape)} and labels {list(labels.shape)} must have the same shape")
        k1 = self.n_blobs + 1
        owner, labels = owner.long().cpu(), labels.long().cpu()
        if int(owner.max()) >= k1 or int(labels.max()) >= N_LABELS or int(labels.min()) < 0:
            raise ValueError(f"owner ids must be < {k1} and labels in 0..{N_LABELS - 1}")
        pixels = owner[0].numel()
        for o, lab in zip(owner, labels):
            joint = _joint(o, lab, self.n_blobs)
            owned = joint[1:].sum(1)                                          # [K]
            kinds = _kinds(joint, self.min_area * pixels)
            visible = kinds >= 0
            for k in np.flatnonzero(visible):
                self.kind_counts[k, kinds[k]] += 1
                self.purity_sum[k] += joint[k + 1, kinds[k]] / owned[k]
            self.visible_per_scene.append(int(visible.sum()))
            self.object_blobs_per_scene.append(int(np.isin(kinds[visible], OBJECT_IDS).sum()))
            for name, c in zip(OBJECT_KINDS, OBJECT_IDS):
                region = joint[:, c]
                if region.sum() >= self.min_object:
                    self.concentration[name].append(float(region[1:].max() / region.sum()))
            self.scenes += 1

    def kind_share(self) -> np.ndarray:
        """[K, N_LABELS]: for each blob, the share of the scenes where it is visible that it has each kind."""
        visible = self.kind_counts.sum(1, keepdims=True)
        return self.kind_counts / np.maximum(visible, 1)

    def summary(self, top: int = 3) -> dict:
        visible = self.kind_counts.sum(1)
        share = self.kind_share()
        per_blob = []
        for k in range(self.n_blobs):
            order = np.argsort(-share[k], kind="stable")[:top]
            per_blob.append({
                "blob": k,
                "visible_rate": float(visible[k] / max(1, self.scenes)),
                "object_rate": float(self.kind_counts[k, OBJECT_IDS].sum() / max(1, self.scenes)),
                "purity": float(self.purity_sum[k] / visible[k]) if visible[k] else None,
                "top_kinds": [[LABEL_NAMES[c], float(share[k, c])] for c in order if share[k, c] > 0],
            })
        per_kind = {}
        for c, name in enumerate(LABEL_NAMES):
            total = int(self.kind_counts[:, c].sum())
            if total:
                best = int(self.kind_counts[:, c].argmax())
                per_kind[name] = {"blobs": total, "main_blob": best,
                                  "main_blob_share": float(self.kind_counts[best, c] / total)}
        all_conc = [v for values in self.concentration.values() for v in values]
        return {
            "scenes": self.scenes,
            "visible_blobs_per_scene": float(np.mean(self.visible_per_scene)) if self.scenes else 0.0,
            "object_blobs_per_scene": float(np.mean(self.object_blobs_per_scene)) if self.scenes else 0.0,
            "object_concentration": float(np.mean(all_conc)) if all_conc else None,
            "object_concentration_by_kind": {k: float(np.mean(v)) for k, v in self.concentration.items() if v},
            "per_blob": per_blob,
            "per_kind": per_kind,
        }

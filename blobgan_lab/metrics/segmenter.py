"""A small room segmenter: the labeller that stands in for ground truth on generated images.

Generated images have no labels, so blob ownership (``ownership.py``) needs a proxy that says which
surface or object each pixel shows. This is a ~0.2 M-parameter fully convolutional network trained
only on the procedural rooms (``render_rooms`` images and their exact label maps, LABEL_NAMES
classes). Its accuracy on held-out procedural rooms is measured and reported next to every ownership
result; on generated images its output is a prediction, not a fact.

Why a network and not a nearest-neighbour patch classifier: room colours are random per image, so
whether a patch is back wall, side wall or bed cover depends on context the patch does not hold. A
kNN on multi-scale 5x5 RGB patches (scales 1, 2, 4, 8; 15,000 class-balanced reference pixels, PCA
to 32 dims, k = 5) reached 70 % pixel accuracy on held-out rooms (82 % of label regions right by
majority), with only 44 % of bed pixels right. The shipped network: 96 % of pixels, 97 % of regions,
96 % of bed pixels on 200 held-out rooms; weaker on small objects (pillow, lamp, curtain: 63-68 %).

Training (``python -m blobgan_lab.metrics.segmenter --out FILE``): rooms from index 5,000,000 on
(never used by the benchmark's real sets), batch 16, Adam, cross-entropy, cosine learning-rate decay.
To cope with the softer look of GAN samples, half of the training images are blurred with the 5-tap
binomial filter and all get a little Gaussian noise. Deterministic on the CPU for a given seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import LABEL_NAMES, render_rooms

SEGMENTER_PATH = Path(__file__).parent / "room_segmenter.safetensors"
TRAIN_INDEX_START = 5_000_000
EVAL_INDEX_START = 6_000_000
N_CLASSES = len(LABEL_NAMES)


def _conv(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, dilation, dilation), nn.ReLU(inplace=True))


class RoomSegmenter(nn.Module):
    """Images [N,3,H,W] on the official scale ([-1,1]; H, W multiples of 4) -> logits [N,15,H,W].

    A two-level encoder with a dilated 1/4-resolution trunk (receptive field covers a 64 px room) and
    a skip-connected decoder back to full resolution."""

    def __init__(self, width: int = 16, n_classes: int = N_CLASSES):
        super().__init__()
        w = width
        self.stem = _conv(3, w)
        self.down1 = _conv(w, 2 * w, stride=2)
        self.mid = _conv(2 * w, 2 * w)
        self.down2 = _conv(2 * w, 4 * w, stride=2)
        self.trunk = nn.Sequential(_conv(4 * w, 4 * w, dilation=2), _conv(4 * w, 4 * w, dilation=4),
                                   _conv(4 * w, 4 * w, dilation=8), _conv(4 * w, 4 * w))
        self.up2 = _conv(6 * w, 2 * w)
        self.up1 = _conv(3 * w, w)
        self.head = nn.Conv2d(w, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"segmenter input must be [N,3,H,W] with H, W multiples of 4, got {list(x.shape)}")
        full = self.stem(x)
        half = self.mid(self.down1(full))
        z = self.trunk(self.down2(half))
        z = self.up2(torch.cat([F.interpolate(z, scale_factor=2, mode="bilinear"), half], 1))
        z = self.up1(torch.cat([F.interpolate(z, scale_factor=2, mode="bilinear"), full], 1))
        return self.head(z)


def rooms_as_input(images: np.ndarray) -> torch.Tensor:
    """uint8 [N,H,W,3] -> float [N,3,H,W] in [-1,1] (the scale model renders use)."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1)


@torch.no_grad()
def segment(net: RoomSegmenter, images: torch.Tensor, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels int64 [N,H,W] (indices into LABEL_NAMES) and confidence [N,H,W] (the winning class's
    softmax probability) for images [N,3,H,W] on the official scale (clamped to [-1,1] first)."""
    labels, confidence = [], []
    for part in images.detach().float().cpu().clamp(-1, 1).split(chunk):
        p = net(part).softmax(1)
        c, lab = p.max(1)
        labels.append(lab)
        confidence.append(c)
    return torch.cat(labels), torch.cat(confidence)


def load_segmenter(path: str | Path | None = None) -> RoomSegmenter:
    """The trained segmenter (default: the weights shipped beside this module), in eval mode."""
    from safetensors.torch import load_file

    path = Path(path) if path is not None else SEGMENTER_PATH
    if not path.is_file():
        raise FileNotFoundError(f"no segmenter weights at {path}; train them with "
                                f"`python -m blobgan_lab.metrics.segmenter --out {path}`")
    net = RoomSegmenter()
    net.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return net.eval().requires_grad_(False)


# -- accuracy ----------------------------------------------------------------------------------------

def label_accuracy(predicted: torch.Tensor, truth: torch.Tensor, min_region: int = 20) -> dict:
    """Pixel accuracy, per-class recall and region accuracy of label maps [N,H,W] against the truth.

    A *region* is all pixels of one true label in one image (at least ``min_region`` of them); it
    counts as right when the most common predicted label inside it is the true one, which is how
    ownership reads labels (majority over a blob's footprint)."""
    predicted, truth = predicted.long().cpu(), truth.long().cpu()
    right = predicted == truth
    recall = {}
    for c, name in enumerate(LABEL_NAMES):
        mask = truth == c
        if mask.any():
            recall[name] = float(right[mask].float().mean())
    regions = correct = 0
    for p, t in zip(predicted, truth):
        counts = torch.bincount(t.reshape(-1) * N_CLASSES + p.reshape(-1), minlength=N_CLASSES ** 2)
        counts = counts.view(N_CLASSES, N_CLASSES)            # [true, predicted]
        sizes = counts.sum(1)
        present = sizes >= min_region
        regions += int(present.sum())
        correct += int((counts.argmax(1) == torch.arange(N_CLASSES))[present].sum())
    return {"pixel_accuracy": float(right.float().mean()),
            "mean_class_recall": float(np.mean(list(recall.values()))),
            "region_accuracy": correct / max(1, regions),
            "regions": regions,
            "class_recall": recall}


def evaluate(net: RoomSegmenter, n: int = 200, size: int = 64, start: int = EVAL_INDEX_START) -> dict:
    """Accuracy on ``n`` held-out procedural rooms (indices ``start`` ..)."""
    rooms = render_rooms(np.arange(start, start + n), size=size)
    predicted, confidence = segment(net, rooms_as_input(rooms.images))
    out = label_accuracy(predicted, torch.from_numpy(rooms.labels.astype(np.int64)))
    out["mean_confidence"] = float(confidence.mean())
    out["images"] = n
    return out


# -- training ----------------------------------------------------------------------------------------

def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Blur half the batch (binomial 5-tap) and add Gaussian noise of std U(0, 0.05) to all of it."""
    from .swd import _blur

    blur = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(blur[:, None, None, None], _blur(x), x)
    sigma = 0.05 * torch.rand(len(x), 1, 1, 1, generator=g)
    return x + sigma * torch.randn(x.shape, generator=g)


def train_segmenter(steps: int = 3000, batch: int = 16, size: int = 64, lr: float = 3e-3, seed: int = 0,
                    log_every: int = 100) -> tuple[RoomSegmenter, dict]:
    """Train a RoomSegmenter on procedural rooms. Returns the net (eval mode) and its card."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = RoomSegmenter()
    opt = torch.optim.Adam(net.parameters(), lr)
    start = time.time()
    for step in range(steps):
        for group in opt.param_groups:   # cosine decay to a tenth
            group["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        first = TRAIN_INDEX_START + step * batch
        rooms = render_rooms(np.arange(first, first + batch), size=size)
        x = _augment(rooms_as_input(rooms.images), g)
        loss = F.cross_entropy(net(x), torch.from_numpy(rooms.labels.astype(np.int64)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps} loss {loss.item():.4f} {time.time() - start:.0f}s", file=sys.stderr,
                  flush=True)
    net.eval().requires_grad_(False)
    card = {"steps": steps, "batch": batch, "size": size, "lr": lr, "seed": seed,
            "train_indices": f"{TRAIN_INDEX_START}..{TRAIN_INDEX_START + steps * batch - 1}",
            "parameters": sum(p.numel() for p in net.parameters()),
            "heldout": evaluate(net, size=size)}   # float32; main() stores float16 and measures again
    return net, card


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Train the room segmenter used as the labeller of generated images.")
    ap.add_argument("--out", default=str(SEGMENTER_PATH), help="weights file (.safetensors)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    from safetensors.torch import save_file

    torch.set_num_threads(args.threads)
    net, card = train_segmenter(args.steps, args.batch, args.size, seed=args.seed)
    # stored as float16 (half the file; the held-out accuracy is measured again on the stored weights)
    save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, args.out)
    card["heldout"] = evaluate(load_segmenter(args.out), size=args.size)
    save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, args.out,
              metadata={"card": json.dumps(card)})
    print(json.dumps(card, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Image -> scene: fidelity, editability and speed of Invert Image's presets.

    python benchmarks/invert.py                          # default model, held-out rooms + own samples
    python benchmarks/invert.py --rooms 16 --samples 8 --follow-scenes 6 --json out.json

* Fidelity: PSNR of ``scene.render()`` against the pictures, per preset, on procedural rooms the model
  never saw (dataset seed 9001; training used seed 0) and on the model's own samples (truncation 0.4).
* Editability: object follow (blobgan_lab.metrics.object_follow, the room segmenter): each object's
  owning blobs moved by 10 % of the side in four directions, how far the object follows (1 = all the
  way). Measured on sampled scenes, on those scenes' pictures inverted, and on held-out rooms inverted.
* ``--study``: the loss and tuning choices behind the presets, on the first 8 held-out rooms: 100
  hidden + 100 raw steps with plain MSE vs MSE + image gradients (no encoder), and the balanced preset
  against a fit that spends its tuning time on layout steps instead (a tuning step costs about two).
* Speed: seconds per picture per preset as a user waits for one (``--timed`` pictures inverted one at
  a time), with and without the encoder; the encoder alone; the 256 px bedroom configuration (random
  weights) for one balanced inversion.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import machine_line  # noqa: E402
from blobgan_core.config import BlobGANConfig  # noqa: E402
from blobgan_core.generator import BlobGAN  # noqa: E402
from blobgan_core.invert import PRESETS, InvertOptions, find_encoder, invert, psnr  # noqa: E402
from blobgan_core.invert.optimize import FitOptions  # noqa: E402
from blobgan_core.loading import load_model  # noqa: E402
from blobgan_core.scene import Scene  # noqa: E402
from blobgan_lab.data.rooms import render_rooms  # noqa: E402
from blobgan_lab.metrics import object_follow  # noqa: E402
from blobgan_lab.metrics.segmenter import load_segmenter  # noqa: E402

HELD_OUT_SEED = 9001


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def fidelity(model, pictures, presets, use_encoder: bool, timed: int) -> dict:
    """PSNR per preset on the batch; seconds per picture as a user waits for one (the first ``timed``
    pictures inverted one at a time)."""
    out = {}
    for name in presets:
        options = dataclasses.replace(PRESETS[name], use_encoder=use_encoder)
        if name == "encoder only" and not use_encoder:
            continue
        scene = invert(model, pictures, options=options)
        p = psnr(scene.render(), pictures)
        _, seconds = _timed(lambda options=options: [invert(model, pictures[i:i + 1], options=options)
                                                     for i in range(timed)])
        out[name] = {"psnr_mean": round(float(p.mean()), 2), "psnr_min": round(float(p.min()), 2),
                     "s_per_image": round(seconds / timed, 3)}
        print(f"  {name:13s} encoder={'yes' if use_encoder else 'no ':3s} PSNR {out[name]['psnr_mean']:6.2f} dB "
              f"(min {out[name]['psnr_min']:.2f})  {out[name]['s_per_image']:.2f} s/image", flush=True)
    return out


def study(model, pictures) -> dict:
    def mean_psnr(scene, target):
        return round(float(psnr(scene.render(), target).mean()), 2)

    out = {}
    base = InvertOptions(use_encoder=False)
    for name, weight in (("mse", 0.0), ("mse+gradients", 1.0)):
        options = dataclasses.replace(base, fit=FitOptions(hidden_steps=100, raw_steps=100, gradient_weight=weight))
        out[f"loss {name}"] = mean_psnr(invert(model, pictures, options=options), pictures)
    # the layout fit as the pivot, tuning for the rest: at the same cost, which share gains more
    balanced = PRESETS["balanced"]
    fit_only = dataclasses.replace(balanced, tune_steps=0, fit=dataclasses.replace(
        balanced.fit, raw_steps=balanced.fit.raw_steps + 2 * balanced.tune_steps))
    out["balanced, its tuning steps spent on the fit"] = mean_psnr(invert(model, pictures, options=fit_only),
                                                                   pictures)
    out["balanced"] = mean_psnr(invert(model, pictures, preset="balanced"), pictures)
    for k, v in out.items():
        print(f"  {k:44s} PSNR {v:6.2f} dB", flush=True)
    return out


def follow_summary(scenes, net) -> dict:
    """Object follow over single-picture scenes."""
    results = []
    for i, scene in enumerate(scenes):
        results += object_follow.measure_scene(scene.model, net, scene.layout, noise_seed=scene.noise, scene=i)
    s = object_follow.summarize(results)["owners"]
    return {"moves": s["moves"], "follow": s["follow"], "follow_h": s["follow_horizontal"],
            "follow_v": s["follow_vertical"], "other_drift_median_px": s["others_drift_median_px"]}


def bedroom_seconds() -> float:
    """One balanced inversion (16 candidates, no encoder) with the 256 px bedroom configuration."""
    bedroom = BlobGAN(BlobGANConfig()).eval()
    bedroom.set_mean_latent(torch.zeros(bedroom.config.mlp_width))
    options = dataclasses.replace(PRESETS["balanced"], samples=16)
    target = torch.rand(1, 3, 256, 256) * 2 - 1
    _, seconds = _timed(lambda: invert(bedroom, target, options=options, encoder=False))
    print(f"256 px bedroom configuration (random weights), balanced, 16 candidates: {seconds:.1f} s "
          f"({options.total_steps()} steps)", flush=True)
    return round(seconds, 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--rooms", type=int, default=16)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--follow-scenes", type=int, default=8)
    p.add_argument("--timed", type=int, default=4, help="pictures timed one at a time per preset")
    p.add_argument("--presets", default="encoder only,fast,balanced,faithful")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-bedroom", action="store_true")
    p.add_argument("--bedroom-only", action="store_true", help="only the 256 px bedroom configuration's time")
    p.add_argument("--study", action="store_true", help="only the loss and tuning study (see above)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    presets = [s.strip() for s in args.presets.split(",") if s.strip()]
    model = load_model(args.model)
    report = {"machine": machine_line(), "threads": args.threads, "model": getattr(model, "source_path", None),
              "encoder": find_encoder(model) is not None}
    print(report["machine"], f"| torch threads {args.threads}", flush=True)

    rooms = render_rooms(range(args.rooms), size=model.resolution, seed=HELD_OUT_SEED)
    held_out = torch.from_numpy(rooms.images).permute(0, 3, 1, 2).float() / 127.5 - 1
    if args.study or args.bedroom_only:
        if args.study:
            report["study"] = study(model, held_out[:8])
        else:
            report["bedroom_256_balanced_s"] = bedroom_seconds()
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        return 0
    own = model.render(model.sample_layout(seed=777, batch=args.samples), noise=0)
    print(f"held-out rooms ({args.rooms}, seed {HELD_OUT_SEED}):")
    report["held_out"] = {"encoder": fidelity(model, held_out, presets, True, args.timed),
                          "no_encoder": fidelity(model, held_out, [n for n in presets if n != "faithful"], False,
                                                 args.timed)}
    print(f"the model's own samples ({args.samples}):")
    report["own_samples"] = fidelity(model, own, presets, True, args.timed)

    encoder = find_encoder(model)
    if encoder is not None:
        x = held_out[:1]
        with torch.no_grad():
            encoder(x)
            _, seconds = _timed(lambda: [encoder(x) for _ in range(20)])
        report["encoder_ms_per_image"] = round(seconds / 20 * 1000, 2)
        print(f"encoder alone: {report['encoder_ms_per_image']} ms per image (batch 1)")

    net = load_segmenter()
    n = args.follow_scenes
    sampled = Scene(model, model.sample_layout(seed=4242, batch=n), noise_seed=0)
    pictures = sampled.render()
    held = held_out[:n]
    items = range(n)
    report["follow"] = {"sampled": follow_summary([sampled.select(i) for i in items], net)}
    for preset in ("fast", "balanced", "faithful"):
        own_scene, room_scene = invert(model, pictures, preset=preset), invert(model, held, preset=preset)
        report["follow"][f"samples inverted, {preset}"] = follow_summary([own_scene.select(i) for i in items], net)
        report["follow"][f"held-out inverted, {preset}"] = follow_summary([room_scene.select(i) for i in items], net)
    for k, v in report["follow"].items():
        print(f"object follow, {k:28s}: {v['follow']:.3f} (sideways {v['follow_h']:.3f}, up/down "
              f"{v['follow_v']:.3f}) over {v['moves']} moves; others drift median {v['other_drift_median_px']} px")

    if not args.skip_bedroom:
        report["bedroom_256_balanced_s"] = bedroom_seconds()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drag benchmark: accuracy, locality and speed of Drag Points on a fixed suite of drag tasks.

    python benchmarks/drag.py                        # the default model (random fallback, labelled)
    python benchmarks/drag.py --model PATH           # any .safetensors / .ckpt
    python benchmarks/drag.py --preset official256 --device cuda   # random 256 px bedroom config, timing
    python benchmarks/drag.py --choose-layer         # tracking accuracy per decoder layer (layer choice)
    python benchmarks/drag.py --model M.safetensors --choose-layer --write   # store the winner in M

The task suite (fixed seeds, so every run sees the same tasks):

* Scenes are model samples (seeds 0..n-1, truncation 0.4). In each, the two blobs with the largest
  visible area (composited alpha, at least 2 % of the image) are the objects to drag.
* "move" tasks: one handle at the blob's visible core (the pixel where its composited alpha is
  highest) dragged by an offset. "pair" tasks: two handles on the blob (20 % and 80 % along its major
  axis) dragged by a similarity (rotation 10-20 degrees, scale 0.9-1.15, a shift).
* Offset sizes come from the procedural rooms (blobgan_lab.data): the drag is a quarter of the width
  of the widest object of procedural room i (its known bbox), clamped to 3..16 px at 128 px, in a
  seeded random direction, so drags are object-sized. The procedural object *positions* cannot give
  ground-truth handle positions here: model samples are not procedural renders and there is no
  inverter, so "where the object is" is known only through the model's own blobs.
* Ground truth: the paired edit, i.e. the same blob moved by the same transform with the edit
  functions (what a perfect blob-level drag produces). "GT gap" is the mean |edited - paired| in
  8-bit levels; "no edit" rows give the gap of the unedited image for scale.
* The mask given to the drag (and used for "outside change") is the blob's footprint (alpha > 0.1)
  before and after the paired edit, dilated by r2.

The object suite (``--suite objects``) checks the same kind of drags with detectors that owe nothing to
the drag: the room segmenter (blobgan_lab.metrics.segmenter, trained only on procedural rooms, whose
object positions are known) labels each scene; every object (an 8-connected region of one kind)
covering at least 1 % of the image is a task: one handle at the object pixel nearest its centroid,
dragged by a quarter of the object's width (3..16 px at 128 px) in a seeded direction, no mask. Object
MD = the distance between the object's centroid in the edited image (segmented again, inside the union
of its box before and after the drag: neutral between stayed and moved) and its original centroid plus
the drag. Its floor, the "detector" row, is the same measurement on the original image translated by
each drag: what a perfect drag would score, i.e. the segmenter's own translation error.

Both suites also report the content distance by the lab's patch tracker
(blobgan_lab.metrics.patch_tracker, no code shared with the drag): where the original's patch around
each handle is in the edited image, to its target ("patch", and "p.big" with a 1.5x larger template),
its floor on the image translated by each drag, and "agree": the mean |reported - patch| per handle.

Metrics: MD / tracked = mean distance between the final handles Drag Points reports and their targets
(DragGAN's MD with the drag's own tracker as the detector), scaled to 128 px; the share of edits that converged;
the mean |edited - original| outside the mask (8-bit levels); seconds per edit; iterations per
second (optimizer steps / wall time of the edits that took steps). Variants: the closed-form step
alone (steps=0), the full method, and the loop without the closed-form step (fit=none).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from machine import machine_line  # benchmarks/machine.py (the script folder is on sys.path)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blobgan_core import BlobGANConfig, load_model  # noqa: E402
from blobgan_core.drag import drag  # noqa: E402
from blobgan_core.drag.closed_form import transform_blob  # noqa: E402
from blobgan_core.drag.features import decoder_features, layer_names, layer_resolution, resolve_layer  # noqa: E402
from blobgan_core.drag.loop import R2_AT_128, scaled_px  # noqa: E402
from blobgan_core.drag.tracking import reference_features, track_points  # noqa: E402
from blobgan_core.edits import move_blob  # noqa: E402
from blobgan_core.generator import BlobGAN  # noqa: E402
from blobgan_core.layout import cov_axes  # noqa: E402
from blobgan_core.splat import layout_alphas  # noqa: E402

MIN_AREA = 0.02
TRUNCATION = 0.4
# Layers whose mean tracking errors differ by less than this are tied (the study's 59 points per row
# give a standard error of about 0.06 px); the tie goes to the cheaper, coarser layer.
LAYER_TIE_PX = 0.05


# -- the model ---------------------------------------------------------------------------------------

def get_model(args) -> tuple[BlobGAN, str]:
    device = torch.device(args.device)
    if args.preset:
        return random_model(args.preset, device), f"RANDOM UNTRAINED weights, preset {args.preset!r}"
    try:
        model = load_model(args.model, device=device)
        return model, f"{'default model' if args.model is None else args.model} ({model.source_path})"
    except FileNotFoundError as e:
        if args.model is not None:
            raise
        print(f"!! {e}\n!! FALLING BACK to a RANDOM UNTRAINED model (preset cpu64): the accuracy numbers "
              "below say nothing about the trained model; the timings are indicative only.")
        return random_model("cpu64", device), "RANDOM UNTRAINED weights, preset 'cpu64' (default model missing)"


def random_model(preset: str, device) -> BlobGAN:
    from blobgan_lab.train.options import PRESETS

    if preset not in PRESETS:
        raise SystemExit(f"--preset must be one of {sorted(PRESETS)}, got {preset!r}")
    with torch.random.fork_rng(devices=[]):  # seeded weights without touching the caller's RNG
        torch.manual_seed(0)
        model = BlobGAN(BlobGANConfig(**PRESETS[preset]["model"]))
    return model.to(device).eval().requires_grad_(False)


# -- tasks ---------------------------------------------------------------------------------------------

def object_drag_lengths(n: int, resolution: int) -> list[float]:
    """Per scene i: a quarter of the width of procedural room i's widest object, in pixels at
    ``resolution``, clamped to 3..16 px at 128 px."""
    from blobgan_lab.data import render_rooms

    rooms = render_rooms(list(range(n)), size=64, seed=0)
    out = []
    for objects in rooms.objects:
        widths = [o["bbox"][2] - o["bbox"][0] for o in objects if o.get("pixels", 1) > 0] or [0.25]
        px = 0.25 * max(widths) * resolution
        out.append(min(max(px, 3 * resolution / 128), 16 * resolution / 128))
    return out


def build_tasks(model: BlobGAN, n_scenes: int) -> list[dict]:
    res = model.resolution
    lengths = object_drag_lengths(n_scenes, res)
    g = torch.Generator().manual_seed(1234)
    tasks = []
    for seed in range(n_scenes):
        layout = model.sample_layout(seed=seed, truncation=TRUNCATION)
        alpha = layout_alphas(layout.to(dtype=torch.float32), res)[0, 1:].cpu()     # [K,R,R]
        area = alpha.mean((1, 2))
        blobs = [int(k) for k in area.argsort(descending=True)[:2] if float(area[k]) >= MIN_AREA]
        for kind, k in zip(("move", "pair"), blobs):
            u = torch.rand(4, generator=g)
            task = pair_task(layout, alpha[k], k, u, lengths[seed]) if kind == "pair" else \
                move_task(alpha[k], k, u, lengths[seed], res)
            if task is not None:
                tasks.append({"seed": seed, "kind": kind, "blob": k, **task})
    return tasks


def move_task(alpha_k, k, u, length, res) -> dict | None:
    iy, ix = divmod(int(alpha_k.argmax()), res)
    h = torch.tensor([[float(ix), float(iy)]])
    angle = 2 * math.pi * float(u[0])
    t = h + length * torch.tensor([[math.cos(angle), math.sin(angle)]])
    t = t.clamp(2, res - 2)
    a, tau = torch.eye(2), (t - h)[0] / res
    return {"handles": h, "targets": t, "A": a, "tau": tau}


def pair_task(layout, alpha_k, k, u, length, ) -> dict | None:
    res = alpha_k.shape[-1]
    ys, xs = torch.nonzero(alpha_k >= 0.5, as_tuple=True)
    if len(xs) < 8:
        return None
    angle, _, _ = cov_axes(layout.covs[0, k].cpu().float())
    axis = torch.stack([torch.cos(angle), torch.sin(angle)])
    pts = torch.stack([xs, ys], -1).float()
    order = (pts @ axis).argsort()
    h = pts[order[[int(0.2 * (len(order) - 1)), int(0.8 * (len(order) - 1))]]]       # [2,2]
    rot = math.radians((10 + 10 * float(u[0])) * (1 if float(u[1]) < 0.5 else -1))
    scale = 0.9 + 0.25 * float(u[2])
    a = scale * torch.tensor([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    shift = 0.5 * length * torch.tensor([math.cos(2 * math.pi * float(u[3])), math.sin(2 * math.pi * float(u[3]))])
    centre = h.mean(0)
    t = (h - centre) @ a.t() + centre + shift
    if bool((t < 2).any() or (t > res - 2).any()):
        return None
    # the same map in normalized units: x -> A x + tau
    tau = (centre + shift - a @ centre) / res
    return {"handles": h, "targets": t, "A": a, "tau": tau}


def paired_layout(layout, task):
    if task["kind"] == "move":
        return move_blob(layout, task["blob"], float(task["tau"][0]), float(task["tau"][1]))
    return transform_blob(layout, task["blob"], task["A"].to(layout.xs), task["tau"].to(layout.xs), keep_area=True)


def footprint_mask(layout, paired, k, res, dilate) -> torch.Tensor:
    a = layout_alphas(layout.to(dtype=torch.float32), res)[0, k + 1]
    b = layout_alphas(paired.to(dtype=torch.float32), res)[0, k + 1]
    m = ((a > 0.1) | (b > 0.1)).float()
    r = int(math.ceil(dilate))
    return F.max_pool2d(m[None, None], 2 * r + 1, stride=1, padding=r)[0, 0]


# -- running -------------------------------------------------------------------------------------------

VARIANTS = {
    "closed form only": dict(steps=0),
    "full (closed form + loop)": dict(),
    "loop only (fit=none)": dict(fit="none"),
}
VARIANT_KEYS = {"closed": "closed form only", "full": "full (closed form + loop)", "loop": "loop only (fit=none)"}


def chosen_variants(args) -> dict:
    names = [VARIANT_KEYS[k] for k in args.variants.split(",")] if args.variants else list(VARIANTS)
    return {n: VARIANTS[n] for n in names}


def drag_options(args) -> dict:
    """The drag settings every variant shares, from the command line."""
    return dict(steps=args.steps, lr=args.lr, layer=args.layer, track_prior=args.track_prior,
                track_on=args.track_on, supervise_on=args.supervise_on)


def levels(img: torch.Tensor) -> torch.Tensor:
    return (img.float().clamp(-1, 1) + 1) * 127.5


# -- the patch tracker: an image-space detector independent of the drag ----------------------------

# the patch tracker's second template size: 1.5x its default (13x13 px at 64 px against 9x9), more context
# around the handle; a drag that fitted one patch size without moving the content shows up here
LARGE_PATCH = 1.5


def patch_distances(original, edited, handles, targets, large: bool = False) -> list[float]:
    """Per handle: distance (px) from its target to where the independent patch tracker
    (blobgan_lab.metrics.patch_tracker) finds the original's patch around the handle in ``edited``."""
    from blobgan_lab.metrics import patch_tracker

    res = original.shape[-1]
    radius = round(LARGE_PATCH * patch_tracker.default_radius(res)) if large else None
    out = []
    for h, t in zip(handles.tolist(), targets.tolist()):
        found = patch_tracker.track(original, edited, h, search=patch_tracker.search_for(h, t, res), radius=radius)
        out.append(float(((found.x - t[0]) ** 2 + (found.y - t[1]) ** 2) ** 0.5))
    return out


def patch_floor(original, handles, targets, large: bool = False) -> list[float]:
    """Per handle: the patch tracker's error on a perfect move, the original translated by target - handle."""
    from blobgan_lab.metrics import patch_tracker

    res = original.shape[-1]
    radius = round(LARGE_PATCH * patch_tracker.default_radius(res)) if large else None
    return [patch_tracker.floor_error(original, h, [t[0] - h[0], t[1] - h[1]], radius=radius,
                                      search=patch_tracker.search_for(h, t, res))
            for h, t in zip(handles.tolist(), targets.tolist())]


def flat_handles(original, handles) -> int:
    """How many handles sit on a patch with almost no contrast (the patch tracker cannot see them move)."""
    from blobgan_lab.metrics import patch_tracker

    return sum(patch_tracker.track(original, original, h, search=0).contrast < patch_tracker.FLAT_CONTRAST
               for h in handles.tolist())


def run_suite(model, tasks, args) -> dict:
    res = model.resolution
    dilate = scaled_px(R2_AT_128, res, 2.0)
    results = {}
    prepared = []
    for task in tasks:
        layout = model.sample_layout(seed=task["seed"], truncation=TRUNCATION)
        paired = paired_layout(layout, task)
        mask = footprint_mask(layout, paired, task["blob"], res, dilate).to(model.device)
        with torch.no_grad():
            original = levels(model.render(layout, noise=task["seed"]))
            gt = levels(model.render(paired, noise=task["seed"]))
        prepared.append((task, layout, mask, original, gt))
    # warm-up (first-call allocations, oneDNN kernel selection)
    t0, lay0, m0, _, _ = prepared[0]
    drag(model, t0["handles"], t0["targets"], layout=lay0, noise=t0["seed"], mask=m0, steps=2)

    base = {"MD": [], "gap": [], "patch": [], "patch_large": [], "flat": 0}
    floor = {"MD": [], "gap": [], "patch": [], "patch_large": []}
    for task, _, _, original, gt in prepared:
        base["MD"].append(float((task["handles"] - task["targets"]).norm(dim=-1).mean()))
        base["gap"].append(float((original - gt).abs().mean()))
        image = original / 127.5 - 1
        for large, key in ((False, "patch"), (True, "patch_large")):
            base[key].append(statistics.mean(patch_distances(image, image, task["handles"], task["targets"], large)))
            floor[key].append(statistics.mean(patch_floor(image, task["handles"], task["targets"], large)))
        base["flat"] += flat_handles(image, task["handles"])
    results["no edit"] = summarize(base, res)
    results["patch tracker floor (perfect translation)"] = summarize(floor, res)

    for name, kw in chosen_variants(args).items():
        rows = {key: [] for key in ("MD", "gap", "patch", "patch_large", "agree", "outside", "seconds", "steps",
                                    "converged", "loop_s", "cpu_seconds")}
        for task, layout, mask, original, gt in prepared:
            opts = drag_options(args) | kw
            sync(model.device)
            t, cpu = time.perf_counter(), time.process_time()
            r = drag(model, task["handles"], task["targets"], layout=layout, noise=task["seed"], mask=mask, **opts)
            sync(model.device)
            seconds = time.perf_counter() - t
            rows["cpu_seconds"].append(time.process_time() - cpu)
            edited = levels(r.image)
            keep = (1 - mask)
            rows["MD"].append(float(r.distances.mean()))
            rows["gap"].append(float((edited - gt).abs().mean()))
            content = patch_distances(original / 127.5 - 1, r.image, task["handles"], task["targets"])
            rows["patch"].append(statistics.mean(content))
            rows["patch_large"].append(statistics.mean(
                patch_distances(original / 127.5 - 1, r.image, task["handles"], task["targets"], large=True)))
            rows["agree"].append(statistics.mean(abs(a - float(b)) for a, b in zip(content, r.distances)))
            rows["outside"].append(float(((edited - original).abs().mean(1)[0] * keep).sum() / keep.sum().clamp_min(1)))
            rows["seconds"].append(seconds)
            rows["steps"].append(r.steps)
            rows["converged"].append(r.converged)
            if r.steps:
                rows["loop_s"].append(seconds)
        results[name] = summarize(rows, res)
    return results


def summarize(rows: dict, res: int) -> dict:
    """Means over tasks; distances in px at ``res`` and (``*_at_128``) scaled to 128 px."""
    out = {}
    if rows["MD"]:
        out.update({"MD_px": statistics.mean(rows["MD"]), "MD_median_px": statistics.median(rows["MD"]),
                    "MD_max_px": max(rows["MD"]), "gap": statistics.mean(rows["gap"])})
        out["MD_at_128"] = out["MD_px"] * 128 / res
    if rows.get("patch"):
        out["patch_MD_px"] = statistics.mean(rows["patch"])
        out["patch_MD_median_px"] = statistics.median(rows["patch"])
        out["patch_MD_at_128"] = out["patch_MD_px"] * 128 / res
    if rows.get("patch_large"):
        out["patch_large_MD_at_128"] = statistics.mean(rows["patch_large"]) * 128 / res
    if rows.get("agree"):
        out["agreement_at_128"] = statistics.mean(rows["agree"]) * 128 / res
    if "flat" in rows:
        out["flat_handles"] = rows["flat"]
    if "seconds" in rows:
        steps_with_loop = sum(s for s in rows["steps"])
        out.update({
            "outside": statistics.mean(rows["outside"]),
            "converged": sum(rows["converged"]) / len(rows["converged"]),
            "seconds_mean": statistics.mean(rows["seconds"]),
            "seconds_max": max(rows["seconds"]),
            "cpu_seconds_mean": statistics.mean(rows["cpu_seconds"]),
            "steps_mean": statistics.mean(rows["steps"]),
            "it_per_s": steps_with_loop / sum(rows["loop_s"]) if rows["loop_s"] else float("nan"),
        })
    return out


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# -- object suite: the segmenter as an independent detector ------------------------------------------

OBJECT_MIN_AREA = 0.01
OBJECT_DRAG_KINDS = ("bed", "window", "painting", "rug", "wardrobe", "nightstand", "lamp")


def object_pixels(labels: torch.Tensor, kind: int) -> torch.Tensor:
    """(x, y) [M,2] of the pixels labelled ``kind`` in labels [H,W]."""
    ys, xs = torch.nonzero(labels == kind, as_tuple=True)
    return torch.stack([xs, ys], -1).float()


def search_box(box, shift, size: int) -> tuple[int, int, int, int]:
    """The union of an object's bounding box (x0, y0, x1, y1, inclusive) and the box moved by ``shift``
    (rounded), grown by object_follow's margin: neutral between "stayed" and "went all the way"."""
    from blobgan_lab.metrics.object_follow import BOX_MARGIN

    dx, dy = round(float(shift[0])), round(float(shift[1]))
    x0, y0, x1, y1 = box
    return (max(0, min(x0, x0 + dx) - BOX_MARGIN), max(0, min(y0, y0 + dy) - BOX_MARGIN),
            min(size - 1, max(x1, x1 + dx) + BOX_MARGIN), min(size - 1, max(y1, y1 + dy) + BOX_MARGIN))


def object_centroid(labels: torch.Tensor, kind: int, box=None) -> torch.Tensor | None:
    """Mean (x, y) [2] of the pixels labelled ``kind`` in labels [H,W] (inside ``box`` when given), or
    None when fewer than half the task minimum remain (the object vanished)."""
    if box is not None:
        x0, y0, x1, y1 = box
        inside = torch.full_like(labels, -1)
        inside[y0:y1 + 1, x0:x1 + 1] = labels[y0:y1 + 1, x0:x1 + 1]
        labels = inside
    pts = object_pixels(labels, kind)
    return pts.mean(0) if len(pts) >= OBJECT_MIN_AREA * labels.numel() / 2 else None


def build_object_tasks(model: BlobGAN, n_scenes: int, net) -> list[dict]:
    """One task per object: an 8-connected region of one kind covering at least 1 % of the picture (two
    nightstands are two objects), dragged from its pixel nearest its centroid by a quarter of its width."""
    from blobgan_lab.data import LABEL_NAMES
    from blobgan_lab.metrics.object_follow import connected_regions
    from blobgan_lab.metrics.segmenter import segment

    res = model.resolution
    g = torch.Generator().manual_seed(4321)
    tasks = []
    for seed in range(n_scenes):
        layout = model.sample_layout(seed=seed, truncation=TRUNCATION)
        with torch.no_grad():
            image = model.render(layout, noise=seed)
        labels = segment(net, image)[0][0]
        for name in OBJECT_DRAG_KINDS:
            kind = LABEL_NAMES.index(name)
            for region in connected_regions(labels == kind):
                ys, xs = torch.nonzero(region, as_tuple=True)
                if len(xs) < OBJECT_MIN_AREA * res * res:
                    continue
                pts = torch.stack([xs, ys], -1).float()
                centre = pts.mean(0)
                h = pts[(pts - centre).norm(dim=1).argmin()]
                width = float(xs.max() - xs.min() + 1)
                length = min(max(0.25 * width, 3 * res / 128), 16 * res / 128)
                angle = 2 * math.pi * float(torch.rand(1, generator=g))
                t = (h + length * torch.tensor([math.cos(angle), math.sin(angle)])).clamp(2, res - 3)
                box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
                tasks.append({"seed": seed, "kind": name, "label": kind, "layout": layout, "image": image,
                              "handles": h[None], "targets": t[None], "goal": centre + (t - h),
                              "box": search_box(box, t - h, res)})
    return tasks


def translate(image: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """image [1,3,R,R] with its content moved by ``shift`` (x, y px), bilinear, edges repeated."""
    res = image.shape[-1]
    theta = torch.tensor([[1.0, 0.0, -2 * float(shift[0]) / res], [0.0, 1.0, -2 * float(shift[1]) / res]])
    grid = F.affine_grid(theta[None].to(image), list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, align_corners=False, padding_mode="border")


def run_object_suite(model, tasks, args, net) -> dict:
    from blobgan_lab.metrics.segmenter import segment

    res = model.resolution

    def error(image, task) -> float | None:
        found = object_centroid(segment(net, image.float().cpu())[0][0], task["label"], task["box"])
        return None if found is None else float((found - task["goal"]).norm())

    def content(image, task, large=False) -> float:
        return patch_distances(task["image"], image, task["handles"], task["targets"], large)[0]

    results, patch, big, tracked, seconds = {}, {}, {}, {}, {}
    shifts = [(t["targets"] - t["handles"])[0] for t in tasks]
    results["no edit"] = [float(s.norm()) for s in shifts]
    patch["no edit"] = [content(t["image"], t) for t in tasks]
    big["no edit"] = [content(t["image"], t, True) for t in tasks]
    floor = "detector floor (perfect translation)"
    results[floor] = [error(translate(t["image"], s), t) for t, s in zip(tasks, shifts)]
    patch[floor] = [patch_floor(t["image"], t["handles"], t["targets"])[0] for t in tasks]
    big[floor] = [patch_floor(t["image"], t["handles"], t["targets"], True)[0] for t in tasks]
    for name, kw in object_variants(args).items():
        errors, patch[name], big[name], tracked[name], seconds[name] = [], [], [], [], []
        for task in tasks:
            opts = drag_options(args) | kw
            t0 = time.perf_counter()
            r = drag(model, task["handles"], task["targets"], layout=task["layout"], noise=task["seed"], **opts)
            seconds[name].append(time.perf_counter() - t0)
            errors.append(error(r.image, task))
            patch[name].append(content(r.image, task))
            big[name].append(content(r.image, task, True))
            tracked[name].append(float(r.distances.mean()))
        results[name] = errors
    out = {}
    for name, errors in results.items():
        # a vanished object counts as not moved at all (its drag length), and is counted
        lost = sum(e is None for e in errors)
        vals = [e if e is not None else float(s.norm()) for e, s in zip(errors, shifts)]
        row = {"object_MD_px": statistics.mean(vals), "object_MD_median_px": statistics.median(vals),
               "object_MD_at_128": statistics.mean(vals) * 128 / res, "lost": lost,
               "patch_MD_px": statistics.mean(patch[name]), "patch_MD_median_px": statistics.median(patch[name]),
               "patch_MD_at_128": statistics.mean(patch[name]) * 128 / res,
               "patch_large_MD_at_128": statistics.mean(big[name]) * 128 / res}
        if name in tracked:
            row["tracked_MD_px"] = statistics.mean(tracked[name])
            row["tracked_MD_at_128"] = row["tracked_MD_px"] * 128 / res
            row["agreement_at_128"] = statistics.mean(
                abs(a - b) for a, b in zip(tracked[name], patch[name])) * 128 / res
            row["seconds_mean"] = statistics.mean(seconds[name])
        out[name] = row
    return out


def object_variants(args) -> dict:
    return {n: kw for n, kw in chosen_variants(args).items() if n != "loop only (fit=none)"}


def print_object_suite(tasks, results, res) -> None:
    kinds = sorted({t["kind"] for t in tasks})
    print(f"\nobject suite: {len(tasks)} drags of segmented objects ({', '.join(kinds)}), no mask; px at 128 px")
    print(f"{'variant':<38} {'object':>6} {'median':>6} {'lost':>4} {'patch':>6} {'median':>6} {'p.big':>6} "
          f"{'tracked':>7} {'agree':>6} {'s/edit':>6}")
    scale = 128 / res
    for name, r in results.items():
        print(f"{name:<38} {r['object_MD_at_128']:6.2f} {r['object_MD_median_px'] * scale:6.2f} {r['lost']:4d} "
              f"{r['patch_MD_at_128']:6.2f} {r['patch_MD_median_px'] * scale:6.2f} {r['patch_large_MD_at_128']:6.2f} "
              f"{_cell(r, 'tracked_MD_at_128', '.2f', 7)} {_cell(r, 'agreement_at_128', '.2f', 6)} "
              f"{_cell(r, 'seconds_mean', '.3f', 6)}")
    print("object: segmented object centroid to (original centroid + drag) (the room segmenter as detector); "
          "patch: the content under the handle, found by the independent patch tracker, to the target (p.big: "
          "with a template 1.5x as large); "
          "tracked: the drag's reported handle to target; agree: mean |tracked - patch|;\n"
          "the floor row is each detector's score on a perfect drag (the original image translated by the drag).")


# -- layer choice ------------------------------------------------------------------------------------

def choose_layer(model, n_scenes: int) -> dict:
    """Tracking accuracy per decoder layer on known moves: move a blob by a known offset (the move
    edit), track a point of it from the original into the moved scene, compare with the truth. Points:
    the blob's visible core (alpha highest: flat, the hard case) and a point on its visible edge (the
    pixel with alpha nearest 0.5 closest to the core). "stay" is the error of not tracking at all."""
    res = model.resolution
    noise = model.resolve_noise(0)
    g = torch.Generator().manual_seed(99)
    layers = [n for n in layer_names(model.config) if layer_resolution(model.config, n) >= res // 8]
    errors = {(n, where): [] for n in [*layers, "stay"] for where in ("core", "edge")}
    radius = scaled_px(R2_AT_128, res, 2.0)
    for seed in range(n_scenes):
        layout = model.sample_layout(seed=seed, truncation=TRUNCATION)
        alpha = layout_alphas(layout.to(dtype=torch.float32), res)[0, 1:].cpu()
        area = alpha.mean((1, 2))
        feats0 = {}
        for k in [int(k) for k in area.argsort(descending=True)[:2] if float(area[k]) >= MIN_AREA]:
            angle = 2 * math.pi * float(torch.rand(1, generator=g))
            length = float(1 + torch.rand(1, generator=g) * 4) * res / 128      # 1..5 px at 128 px
            shift = length * torch.tensor([math.cos(angle), math.sin(angle)])
            moved = move_blob(layout, k, float(shift[0]) / res, float(shift[1]) / res)
            for where, h in (("core", core_point(alpha[k])), ("edge", edge_point(alpha[k]))):
                truth = h + shift
                if bool((truth < 0).any() or (truth > res - 1).any()):
                    continue
                errors[("stay", where)].append(float(shift.norm()))
                for name in layers:
                    with torch.no_grad():
                        if name not in feats0:
                            feats0[name] = decoder_features(model, layout, noise, name)[0]
                        f1 = decoder_features(model, moved, noise, name)[0]
                    f0 = feats0[name]
                    refs = reference_features(f0, h.to(f0), res)
                    found = track_points(f1, refs, h.to(f0), radius, res)
                    errors[(name, where)].append(float((found.cpu() - truth).norm()))
    out = {}
    for (name, where), e in errors.items():
        if e:
            side = layer_resolution(model.config, name) if name != "stay" else 0
            out[f"{name}/{where}"] = {"mean_px": statistics.mean(e), "median_px": statistics.median(e),
                                      "within_1px": sum(x <= res / 128 for x in e) / len(e), "n": len(e),
                                      "side": side}
    return out


def best_layer(rows: dict, tie_px: float = LAYER_TIE_PX) -> str:
    """The layer whose tracking error, averaged over its core and edge rows, is lowest; among layers
    within ``tie_px`` of that error (a tie at this sample size), the one with the smallest side, which
    is the cheapest to run in every drag iteration."""
    errors: dict[str, list[float]] = {}
    sides: dict[str, int] = {}
    for key, row in rows.items():
        name = key.split("/")[0]
        if name != "stay":
            errors.setdefault(name, []).append(row["mean_px"])
            sides[name] = row["side"]
    mean = {n: statistics.mean(e) for n, e in errors.items()}
    lowest = min(mean.values())
    return min((n for n in mean if mean[n] <= lowest + tie_px), key=lambda n: (sides[n], mean[n]))


def write_layer(model, path, layer: str) -> None:
    from blobgan_core.checkpoint.native import looks_like_safetensors, update_native_metadata

    source = path or getattr(model, "source_path", None)
    if not source:
        raise SystemExit("--write needs a model file (--model PATH or the default model), not a random preset")
    target = Path(source)
    if not looks_like_safetensors(target):
        raise SystemExit(f"--write stores the layer in our .safetensors metadata; {target} is not one "
                         "(convert it first: python -m blobgan_core convert IN.ckpt OUT.safetensors)")
    update_native_metadata(target, drag_layer=layer)
    print(f"wrote drag_layer={layer!r} into {target}")


def core_point(alpha_k) -> torch.Tensor:
    iy, ix = divmod(int(alpha_k.argmax()), alpha_k.shape[-1])
    return torch.tensor([[float(ix), float(iy)]])


def edge_point(alpha_k) -> torch.Tensor:
    res = alpha_k.shape[-1]
    core = core_point(alpha_k)[0]
    ys, xs = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    dist = ((xs - core[0]) ** 2 + (ys - core[1]) ** 2).float().sqrt()
    cost = (alpha_k - 0.5).abs() * 4 + dist / res        # on the half-alpha line, near the core
    iy, ix = divmod(int(cost.argmin()), res)
    return torch.tensor([[float(ix), float(iy)]])


# -- main ----------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="checkpoint path (default: the embedded default model)")
    ap.add_argument("--preset", default=None, help="a random model of this training preset instead (timing)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--scenes", type=int, default=30)
    ap.add_argument("--steps", type=int, default=None, help="loop steps (default: the drag default)")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--suite", choices=("blobs", "objects", "both"), default="both",
                    help="blob tasks with the paired edit as ground truth, object tasks with the segmenter "
                         "as detector, or both")
    ap.add_argument("--layer", default=None, help="decoder feature layer for the drag (default: the drag default)")
    ap.add_argument("--track-prior", type=float, default=None, dest="track_prior",
                    help="tracking prior of the drag (default: the drag default)")
    ap.add_argument("--track-on", choices=("image", "features"), default=None, dest="track_on",
                    help="where the drag tracks the handles (default: the drag default, the render; 'features' "
                         "with --supervise-on features is the method before issue 13)")
    ap.add_argument("--supervise-on", choices=("image", "features", "both"), default=None, dest="supervise_on",
                    help="where motion supervision acts (default: the drag default)")
    ap.add_argument("--variants", default="", help="comma list of closed, full, loop (default: all; the "
                                                  "object suite runs closed and full)")
    ap.add_argument("--choose-layer", action="store_true")
    ap.add_argument("--write", action="store_true",
                    help="with --choose-layer: store the best layer in the model file's drag_layer metadata "
                         "(our .safetensors only), where Drag Points picks it up")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from blobgan_core.drag.loop import (
        DEFAULT_LR,
        DEFAULT_STEPS,
        DEFAULT_SUPERVISE_ON,
        DEFAULT_TRACK_ON,
        DEFAULT_TRACK_PRIOR,
    )
    args.steps = DEFAULT_STEPS if args.steps is None else args.steps
    args.lr = DEFAULT_LR if args.lr is None else args.lr
    args.track_prior = DEFAULT_TRACK_PRIOR if args.track_prior is None else args.track_prior
    args.track_on = args.track_on or DEFAULT_TRACK_ON
    args.supervise_on = args.supervise_on or DEFAULT_SUPERVISE_ON

    model, label = get_model(args)
    res = model.resolution
    print(f"{machine_line()}\nmodel: {label}\nresolution {res} px, device {args.device}")
    report = {"model": label, "resolution": res, "device": args.device, "threads": torch.get_num_threads()}
    if args.choose_layer:
        report["layers"] = choose_layer(model, args.scenes)
        print(f"\ntracking a blob core after a known 1-5 px move (at 128 px), {args.scenes} scenes")
        print(f"{'layer/point':>14} {'side':>5} {'mean px':>8} {'median':>7} {'<=tol':>6} {'n':>4}")
        for name, row in report["layers"].items():
            print(f"{name:>14} {row['side']:>5} {row['mean_px']:8.2f} {row['median_px']:7.2f} "
                  f"{row['within_1px']:6.0%} {row['n']:4d}")
        report["best_layer"] = best_layer(report["layers"])
        print(f"best layer (lowest mean error over core and edge points; within {LAYER_TIE_PX} px, the "
              f"coarsest): {report['best_layer']}; "
              f"in use now: {resolve_layer(model)}")
        if args.write:
            write_layer(model, args.model, report["best_layer"])
    else:
        layer = report["layer"] = resolve_layer(model, args.layer)
        if args.suite in ("objects", "both"):
            run_objects(model, args, report)
        if args.suite in ("blobs", "both"):
            run_blobs(model, args, report, layer)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def run_objects(model, args, report) -> None:
    from blobgan_lab.metrics.segmenter import load_segmenter

    net = load_segmenter()
    tasks = build_object_tasks(model, args.scenes, net)
    report["object_tasks"] = len(tasks)
    report["objects"] = run_object_suite(model, tasks, args, net)
    print_object_suite(tasks, report["objects"], model.resolution)


def run_blobs(model, args, report, layer: str) -> None:
    tasks = build_tasks(model, args.scenes)
    print(f"\nblob suite: {len(tasks)} tasks ({sum(t['kind'] == 'move' for t in tasks)} move, "
          f"{sum(t['kind'] == 'pair' for t in tasks)} pair) on {args.scenes} scenes; steps {args.steps}, "
          f"lr {args.lr}, feature layer {layer}, tracking on the {args.track_on}"
          + (f" (prior {args.track_prior})" if args.track_on == "features" else "")
          + f", motion supervision on {args.supervise_on}")
    report["tasks"] = len(tasks)
    report["results"] = run_suite(model, tasks, args)
    print_blob_suite(report["results"], model.resolution)


def _cell(row: dict, key: str, spec: str, width: int) -> str:
    return format(row[key], spec).rjust(width) if key in row else "".rjust(width)


def print_blob_suite(results: dict, res: int) -> None:
    print(f"\n{'variant':<42} {'tracked':>7} {'patch':>6} {'agree':>6} {'p.med':>6} {'p.big':>6} {'GT gap':>6} "
          f"{'outside':>7} "
          f"{'conv':>5} {'s/edit':>7} {'max s':>6} {'cpu s':>6} {'steps':>5} {'it/s':>6}")
    for name, r in results.items():
        scale = 128 / res
        line = (f"{name:<42} {_cell(r, 'MD_at_128', '.2f', 7)} {_cell(r, 'patch_MD_at_128', '.2f', 6)} "
                f"{_cell(r, 'agreement_at_128', '.2f', 6)} "
                f"{format(r['patch_MD_median_px'] * scale, '.2f').rjust(6) if 'patch_MD_median_px' in r else '':>6} "
                f"{_cell(r, 'patch_large_MD_at_128', '.2f', 6)} {_cell(r, 'gap', '.2f', 6)}")
        if "outside" in r:
            line += (f" {r['outside']:7.2f} {r['converged']:5.0%} {r['seconds_mean']:7.3f} "
                     f"{r['seconds_max']:6.2f} {r['cpu_seconds_mean']:6.3f} {r['steps_mean']:5.1f} "
                     f"{r['it_per_s']:6.1f}")
        print(line)
    flat = results.get("no edit", {}).get("flat_handles")
    print(f"\nDistances in px at 128 px (x{128 / res:g} at {res} px). tracked: the drag's reported handle to target "
          "(DragGAN's MD, the method's own detector); patch: where the independent patch tracker "
          "(blobgan_lab.metrics.patch_tracker) finds the content under each handle, to its target, mean (p.med: "
          "median; p.big: the same with a template 1.5x as large); agree: mean |tracked - patch| per handle; the "
          "floor row is the patch tracker's error on the "
          "original translated by each drag"
          + (f"; {flat} handles sit on flat patches (contrast < 4 levels)" if flat is not None else "") + ".\n"
          "GT gap / outside: mean abs difference in 8-bit levels (to the paired edit / to the original outside "
          "the mask); s/edit: wall seconds; cpu s: process CPU seconds per edit (all threads; on a shared machine "
          "the wall time includes waiting for a core).")


if __name__ == "__main__":
    main()

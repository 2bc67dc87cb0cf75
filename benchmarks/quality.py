"""Quality of a BlobGAN model on procedural bedrooms: realism, edit locality, object follow and blob use.

    python benchmarks/quality.py                                  # the embedded default model
    python benchmarks/quality.py --model runs/default64/model.safetensors --out quality.json --figures figs/

What it measures (definitions in blobgan_lab/metrics/*.py):

* SWD: sliced Wasserstein distance (x 1e3) on Laplacian-pyramid 7x7 patches, Karras et al. 2018,
  between ``--n`` generated images and ``--n`` procedural rooms at the model's resolution, per level
  and averaged; next to it the same distance between two disjoint sets of ``--n`` real rooms (the
  floor a perfect model would reach at this sample size). Generated images: untruncated (the model's
  distribution) and at truncation 0.4 (what the nodes show by default), each with its own noise.
* Edit locality: in ``--locality-scenes`` scenes (truncation 0.4), every blob whose footprint covers
  >= 1 % of the picture is moved by 15 % of the image side in a random direction; share of the pixel
  change inside the blob's old + new footprint (alpha >= 0.1), the footprint's area for scale, the
  change per channel outside it, and how much the blob's content travels with it (carry), also split
  by what the blob shows in the scene (an object, a surface, or under 1 % of the picture of its own,
  by the segmenter below).
* Object follow: in ``--follow-scenes`` scenes (truncation 0.4), every segmented object covering >= 1 %
  of the picture has its owning blobs (or only its main owner) moved by 10 % of the side left, right,
  up and down; how far its centroid follows (1 = all the way), and how far the other objects drift.
* Blob use: in ``--ownership-scenes`` generated scenes (truncation 0.4), each blob's dominant pixels
  are labelled by a small segmenter trained on procedural rooms only (its held-out accuracy is
  reported alongside; on generated images its labels are predictions, not ground truth). Visible
  blobs per scene, blobs whose main label is an object, each blob's usual kinds, and how much of each
  object lies in a single blob (object concentration).

* Drag Points, judged by the pixels: the drag benchmark's object suite (``benchmarks/drag.py --suite
  objects``) on ``--drag-scenes`` scenes: each segmented object is dragged by a quarter of its width with
  the closed-form step alone and with the full Drag Points; how far from its target the content ends,
  by two detectors independent of the drag (the room segmenter's object centroid, and a patch tracker,
  ``blobgan_lab.metrics.patch_tracker``, on the content under the handle), next to the distance Drag
  Points reports, with "no edit" and each detector's floor (its score on the image translated by the
  drag). Distances at 128 px scale. ``--drag-scenes 0`` skips it.

With ``--figures DIR``: samples_t0.png / samples_t0.4.png (first 64 samples, 2x), blobmaps_t*.png
(their labelled blob maps), real_rooms.png, segmentation.png (generated and real rooms with the
segmenter's labels, real ones also with their true labels), edit_strip.png (scene 0's largest blob
moved across the picture, renders over blob maps), object_strip.png (the same for the largest object
of scene 0, its owning blobs moved together) and ownership.png (blob x kind heat map).

Everything is seeded: the same model and ``--seed`` give the same numbers on the same machine. At
64 px with the defaults it takes about 2.5 minutes on one thread of a busy 2-core CPU, and the Drag
Points check about a minute more.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from machine import machine_info  # benchmarks/machine.py (the script folder is on sys.path)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blobgan_core import DEFAULT_MODEL_PATH, load_model  # noqa: E402
from blobgan_core.generator import BlobGAN  # noqa: E402
from blobgan_core.images import to_uint8  # noqa: E402
from blobgan_lab.data import OBJECT_KINDS, render_rooms  # noqa: E402
from blobgan_lab.metrics import figures, locality, object_follow, ownership, segmenter, swd  # noqa: E402

SWD_TRUNCATIONS = (0.0, 0.4)
EDIT_TRUNCATION = 0.4
REAL_A_START = 2_000_000   # real reference rooms (outside the trainer's default 1,000,000 indices)
REAL_B_START = 2_500_000   # second real set, for the real-vs-real baseline
RENDER_BATCH = 50
NOISE_FLOOR_OFFSET = 1_000   # object follow's floor: the same scene rendered with this other noise seed


# -- model and images --------------------------------------------------------------------------------

def open_model(path: str | None) -> tuple[BlobGAN, dict]:
    target = Path(path) if path else DEFAULT_MODEL_PATH
    if not target.is_file():
        what = "the embedded default model" if path is None else "--model"
        raise SystemExit(f"{what} is missing ({target}); pass --model PATH to a .safetensors or .ckpt file")
    model = load_model(target, device="cpu")
    info = {"path": str(target), "config": model.config.to_dict(), "trained_steps": None, "trained_images": None}
    if target.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(target), "pt") as f:
            meta = f.metadata() or {}
        for key in ("trained_steps", "trained_images"):
            if meta.get(key, "").isdigit():
                info[key] = int(meta[key])
        info["created_at"] = meta.get("created_at")
    return model, info


def per_image_noise(model: BlobGAN, n: int, g: torch.Generator) -> list[torch.Tensor]:
    """Fresh decoder noise for n images: one [n,1,r,r] tensor per layer."""
    return [torch.randn((n, *shape[1:]), generator=g) for shape in model.config.noise_shapes()]


@torch.no_grad()
def generate(model: BlobGAN, n: int, seed: int, truncation: float):
    """n samples: uint8 images [n,R,R,3] and their Layout (z and noise drawn from ``seed``)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((n, model.config.noise_dim), generator=g)
    images, layouts = [], []
    for part in z.split(RENDER_BATCH):
        layout = model.sample_layout(z=part, truncation=truncation)
        images.append(to_uint8(model.render(layout, noise=per_image_noise(model, len(part), g))))
        layouts.append(layout.to("cpu"))
    from blobgan_core.layout import Layout

    return np.concatenate(images), Layout.cat(layouts)


# -- the measurements --------------------------------------------------------------------------------

def measure_swd(model, n, seed, timings) -> tuple[dict, dict]:
    res = model.resolution
    t = time.perf_counter()
    rooms_a = render_rooms(np.arange(REAL_A_START, REAL_A_START + n), size=res)
    real_a = rooms_a.images
    real_b = render_rooms(np.arange(REAL_B_START, REAL_B_START + n), size=res).images
    timings["render_real_s"] = time.perf_counter() - t
    t = time.perf_counter()
    generated = {trunc: generate(model, n, seed + 1, trunc) for trunc in SWD_TRUNCATIONS}
    timings["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sets = {"real_vs_real": swd.image_descriptors(real_b, seed=seed * 10 + 2)}
    for i, (trunc, (images, _)) in enumerate(generated.items()):
        sets[f"generated_t{trunc:g}"] = swd.image_descriptors(images, seed=seed * 10 + 3 + i)
    reference = swd.image_descriptors(real_a, seed=seed * 10 + 1)
    timings["swd_descriptors_s"] = time.perf_counter() - t
    t = time.perf_counter()
    table = swd.swd_table(reference, sets, seed=seed)
    timings["swd_distance_s"] = time.perf_counter() - t
    return table, {"real": real_a, "real_labels": rooms_a.labels[:64], "generated": generated}


def blob_group(kind: int) -> str:
    """What a moved blob shows in its scene: an object, a surface, or nothing of its own."""
    if kind < 0:
        return "owns < 1 %"   # its footprint is there, but blobs in front of it own the pixels
    return "object" if kind in ownership.OBJECT_IDS else "surface"


def measure_locality(model, scenes, seed, net, timings) -> tuple[dict, list]:
    """Locality and carry over every visible blob's move; carry also split by what the blob shows
    (pooled carry is dominated by walls and by blobs hidden behind others, which have nothing to carry)."""
    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    results, group = [], {}
    for i in range(scenes):
        scene_seed = seed * 100_000 + i
        layout = model.sample_layout(seed=scene_seed, truncation=EDIT_TRUNCATION)
        moves = locality.plan_moves(layout, model.resolution, rng)
        results += locality.measure_moves(model, layout, moves, noise_seed=scene_seed, scene=i)
        labels, _ = segmenter.segment(net, model.render(layout, noise=scene_seed).float().cpu().clamp(-1, 1))
        kinds = ownership.blob_kinds(ownership.owner_map(layout, model.resolution), labels, model.config.n_blobs)
        group.update({(i, k): blob_group(int(kinds[0, k])) for k, _, _ in moves})
    summary = locality.summarize(results, model.resolution)
    summary["by_blob_kind"] = locality.summarize_groups(results, lambda r: group[(r.scene, r.blob)])
    timings["locality_s"] = time.perf_counter() - t
    return summary, results


def measure_follow(model, scenes, seed, net, timings) -> dict:
    """Object follow over the locality benchmark's scenes (same seeds, so the two describe one set)."""
    t = time.perf_counter()
    results, floor = [], []
    for i in range(scenes):
        scene_seed = seed * 100_000 + i
        layout = model.sample_layout(seed=scene_seed, truncation=EDIT_TRUNCATION)
        objects = object_follow.scene_objects(model, net, layout, scene_seed)
        results += object_follow.measure_scene(model, net, layout, noise_seed=scene_seed, scene=i, objects=objects)
        floor += object_follow.noise_drift(model, net, layout, objects, scene_seed + NOISE_FLOOR_OFFSET)
    timings["follow_s"] = time.perf_counter() - t
    summary = object_follow.summarize(results)
    summary["noise_floor"] = object_follow.summarize_noise_floor(floor)
    return summary


def measure_ownership(model, images, layouts, net, timings) -> tuple[dict, dict]:
    t = time.perf_counter()
    gen_labels, gen_conf = segmenter.segment(net, torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1)
    tally = ownership.OwnershipTally(model.config.n_blobs)
    tally.add(ownership.owner_map(layouts, model.resolution), gen_labels)
    summary = tally.summary()
    summary["kind_share"] = tally.kind_share().round(4).tolist()
    timings["ownership_s"] = time.perf_counter() - t
    t = time.perf_counter()
    heldout = segmenter.evaluate(net, n=200, size=model.resolution)
    timings["labeller_check_s"] = time.perf_counter() - t
    labeller = {"method": "RoomSegmenter (blobgan_lab/metrics/segmenter.py), trained on procedural rooms only",
                "heldout_real": {k: v for k, v in heldout.items() if k != "class_recall"},
                "heldout_real_class_recall": heldout["class_recall"],
                "mean_confidence_generated": float(gen_conf.mean())}
    return summary, {"labeller": labeller, "labels": gen_labels}


def measure_drag(model, scenes, net, timings) -> dict:
    """The drag benchmark's object suite with the drag's defaults (see benchmarks/drag.py)."""
    import drag as drag_benchmark  # benchmarks/drag.py

    from blobgan_core.drag import loop

    t = time.perf_counter()
    args = argparse.Namespace(steps=loop.DEFAULT_STEPS, lr=loop.DEFAULT_LR, layer=None,
                              track_prior=loop.DEFAULT_TRACK_PRIOR, track_on=loop.DEFAULT_TRACK_ON,
                              supervise_on=loop.DEFAULT_SUPERVISE_ON, variants="")
    tasks = drag_benchmark.build_object_tasks(model, scenes, net)
    rows = drag_benchmark.run_object_suite(model, tasks, args, net) if tasks else {}
    timings["drag_s"] = time.perf_counter() - t
    return {"tasks": len(tasks), "kinds": sorted({task["kind"] for task in tasks}), "rows": rows}


# -- output ------------------------------------------------------------------------------------------

def machine() -> dict:
    return machine_info()


def _num(value, spec: str) -> str:
    """``value`` formatted with ``spec``, or '-' where there was nothing to measure (None)."""
    return "-" if value is None else format(value, spec)


def print_report(result: dict) -> None:
    m, mod = result["machine"], result["model"]
    print(f"machine: {m['cpu']}, {m['logical_cores']} logical cores, {m['torch_threads']} torch threads, "
          f"torch {m['torch']}, load average {m.get('load_average_1m', 'n/a')} at start")
    steps = f", {mod['trained_steps']} training steps" if mod.get("trained_steps") is not None else ""
    print(f"model: {mod['path']}{steps} ({mod['config']['resolution']} px, K={mod['config']['n_blobs']})")
    s = result["settings"]
    print(f"\nSWD x1e3, {s['n']} vs {s['n']} images (Laplacian-pyramid 7x7 patches, lower is better)")
    table = result["swd"]
    sides = list(next(iter(table.values()))["levels"])
    print(f"  {'set':<22}" + "".join(f"{str(side) + ' px':>9}" for side in sides) + f"{'mean':>9}")
    for name, row in table.items():
        print(f"  {name:<22}" + "".join(f"{row['levels'][side]:9.2f}" for side in sides) + f"{row['mean']:9.2f}")
    loc = result["locality"]
    print(f"\nEdit locality: {loc['moves']} blob moves of {s['move_px']} px in {s['locality_scenes']} scenes "
          f"(truncation {EDIT_TRUNCATION})")
    if loc.get("moves_with_change"):
        print(f"  change inside old+new footprint: mean {loc['share_mean']:.3f}, median {loc['share_median']:.3f}, "
              f"pooled {loc['share_pooled']:.3f}   (footprint covers {loc['area_mean']:.3f} of the image)")
        print(f"  mean change per channel: inside {loc['change_inside_per_channel']:.1f}, outside "
              f"{loc['change_outside_per_channel']:.2f} (8-bit levels); carry {loc['carry']:.3f}")
        groups = sorted(loc["by_blob_kind"].items(), key=lambda kv: -kv[1]["moves"])
        print("  by what the moved blob shows: " + "; ".join(
            f"{name}: {g['moves']} moves, share {g['share_mean']:.3f}, carry {g['carry']:+.3f}" for name, g in groups))
    print(f"\nObject follow: segmented objects (>= 1 % of the picture) in {s['follow_scenes']} scenes, their blobs "
          f"moved {s['follow_move_px']} px left, right, up and down (1 = the object went all the way)")
    floor = result["follow"]["noise_floor"]
    if not any(v in result["follow"] for v in object_follow.VARIANTS):
        print("  no object found (the segmenter sees none in this model's scenes)")
    for variant, f in ((v, f) for v, f in result["follow"].items() if v in object_follow.VARIANTS):
        print(f"  {variant:<10}: {f['moves']} moves, follow {_num(f['follow'], '.3f')} (horizontal "
              f"{_num(f['follow_horizontal'], '.3f')}, vertical {_num(f['follow_vertical'], '.3f')}), "
              f"objects lost {f['objects_lost']}")
        print(f"  {'':<10}  other objects with blobs of their own drift median "
              f"{_num(f['others_drift_median_px'], '.2f')} px, mean {_num(f['others_drift_px'], '.2f')}, within 1 px "
              f"{_num(f['others_within_1px'], '.0%')} (lost {f['others_lost']} of {f['others'] + f['others_lost']}); "
              f"sharing a moved blob: median {_num(f['shared_drift_median_px'], '.2f')} px ({f['shared']})")
    print(f"  floor: with only the decoder noise changed, objects drift median {_num(floor['drift_median_px'], '.2f')} "
          f"px, mean {_num(floor['drift_px'], '.2f')} ({floor['objects']} objects)")
    kinds = result["follow"].get("owners", {}).get("by_kind", {})
    if kinds:
        print("  by kind (owners moved; horizontal / vertical): " + "; ".join(
            f"{k} {_num(v['horizontal'], '.2f')} / {_num(v['vertical'], '.2f')} ({v['moves']})"
            for k, v in kinds.items()))
    own = result["ownership"]
    lab = result["labeller"]["heldout_real"]
    print(f"\nBlob use: {own['scenes']} generated scenes (truncation {EDIT_TRUNCATION}), labels by the room segmenter "
          f"(held-out real rooms: pixel acc {lab['pixel_accuracy']:.3f}, region acc {lab['region_accuracy']:.3f}; "
          f"confidence real {lab['mean_confidence']:.3f} / generated "
          f"{result['labeller']['mean_confidence_generated']:.3f})")
    print(f"  visible blobs per scene {own['visible_blobs_per_scene']:.2f}, carrying an object "
          f"{own['object_blobs_per_scene']:.2f}; object concentration {own['object_concentration'] or 0:.3f}")
    for b in own["per_blob"]:
        kinds = ", ".join(f"{k} {v:.0%}" for k, v in b["top_kinds"])
        purity = f"{b['purity']:.2f}" if b["purity"] is not None else "-"
        print(f"  blob {b['blob']:2d}: visible {b['visible_rate']:.0%}, object {b['object_rate']:.0%}, "
              f"purity {purity}  {kinds}")
    kinds = [f"{kind} -> blob {v['main_blob']} ({v['main_blob_share']:.0%} of {v['blobs']})"
             for kind, v in own["per_kind"].items() if kind in OBJECT_KINDS]
    if kinds:
        print("  object kinds, the blob that carries each most often: " + "; ".join(kinds))
    if "drag" in result:
        print_drag(result["drag"], s)
    print("\ntimings (s): " + ", ".join(f"{k[:-2]} {v:.1f}" for k, v in result["timings"].items()))


def print_drag(drag: dict, settings: dict) -> None:
    print(f"\nDrag Points judged by the pixels: {drag['tasks']} segmented objects in {settings['drag_scenes']} "
          "scenes, each dragged a quarter of its width from its pixel nearest the centroid; distance of the content "
          "from its target, px at 128 px scale")
    if not drag["rows"]:
        print("  no object found (the segmenter sees none in this model's scenes)")
        return
    print(f"  {'':<38} {'object':>7} {'patch':>7} {'tracked':>8} {'agree':>6} {'lost':>5} {'s/edit':>7}")
    for name, r in drag["rows"].items():
        tracked = f"{r['tracked_MD_at_128']:8.2f}" if "tracked_MD_at_128" in r else " " * 8
        agree = f"{r['agreement_at_128']:6.2f}" if "agreement_at_128" in r else " " * 6
        seconds = f"{r['seconds_mean']:7.3f}" if "seconds_mean" in r else " " * 7
        print(f"  {name:<38} {r['object_MD_at_128']:7.2f} {r['patch_MD_at_128']:7.2f} {tracked} {agree} "
              f"{r['lost']:5d} {seconds}")
    print("  object: the segmented object's centroid to (original centroid + drag); patch: the content under the "
          "handle by the independent patch tracker; tracked: the distance Drag Points reports; agree: mean "
          "|tracked - patch|;\n  the floor row is each detector's score on the image translated by the drag")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="checkpoint (.safetensors/.ckpt); default: the embedded model")
    ap.add_argument("--n", type=int, default=2000, help="images per set for SWD")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--locality-scenes", type=int, default=100)
    ap.add_argument("--follow-scenes", type=int, default=100)
    ap.add_argument("--ownership-scenes", type=int, default=500)
    ap.add_argument("--drag-scenes", type=int, default=12,
                    help="scenes for the Drag Points check (its object suite; 0 = skip)")
    ap.add_argument("--segmenter", default=None, help="labeller weights (default: the shipped ones)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--out", default=None, help="write the numbers as JSON here")
    ap.add_argument("--figures", default=None, help="write PNG figures for the model card into this folder")
    args = ap.parse_args(argv)
    for name in ("n", "locality_scenes", "follow_scenes", "ownership_scenes"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.drag_scenes < 0:
        raise SystemExit(f"--drag-scenes must be >= 0, got {args.drag_scenes}")
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result = {"machine": machine()}
    model, result["model"] = open_model(args.model)
    net = segmenter.load_segmenter(args.segmenter)
    timings: dict[str, float] = {}
    result["settings"] = {"n": args.n, "seed": args.seed, "locality_scenes": args.locality_scenes,
                          "follow_scenes": args.follow_scenes,
                          "follow_move_px": max(1, round(object_follow.MOVE_FRACTION * model.resolution)),
                          "ownership_scenes": min(args.ownership_scenes, args.n),
                          "move_px": round(locality.MOVE_FRACTION * model.resolution),
                          "swd": {"patch": swd.PATCH_SIZE, "patches_per_image": swd.PATCHES_PER_IMAGE,
                                  "directions": swd.N_DIRECTIONS, "repeats": swd.N_REPEATS},
                          "real_indices": [REAL_A_START, REAL_B_START], "drag_scenes": args.drag_scenes}
    result["swd"], sets = measure_swd(model, args.n, args.seed, timings)
    result["locality"], moves = measure_locality(model, args.locality_scenes, args.seed, net, timings)
    result["follow"] = measure_follow(model, args.follow_scenes, args.seed, net, timings)
    images, layouts = sets["generated"][EDIT_TRUNCATION]
    m = result["settings"]["ownership_scenes"]
    result["ownership"], extra = measure_ownership(model, images[:m], layouts.select(slice(0, m)), net, timings)
    result["labeller"] = extra["labeller"]
    if args.drag_scenes > 0:
        result["drag"] = measure_drag(model, args.drag_scenes, net, timings)
    if args.figures:
        t = time.perf_counter()
        result["figures"] = figures.write_figures(Path(args.figures), model, sets, extra["labels"], result, net,
                                                  locality_seed=args.seed)
        timings["figures_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - start
    result["timings"] = {k: round(v, 2) for k, v in timings.items()}
    print_report(result)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Live preview round trip: from a drag's edit list to new pixels, on the default model.

    python benchmarks/preview.py                      # the embedded default model (or its config, random weights)
    python benchmarks/preview.py --model x.safetensors
    python benchmarks/preview.py --config official256 # the paper's bedroom size, random weights

Times, per request, with a different move edit each time (as a drag sends them):
  render   the decoder alone (model.render of one layout)
  handler  nodes/preview.handle_preview in process: validate, apply the edits, render, encode, base64
  http     POST /blobgan/preview to an aiohttp server on 127.0.0.1 (the route as ComfyUI serves it,
           work in a worker thread), plus the client's JSON parse and image decode: the drag-to-pixels
           time the widget sees, minus the browser's own few ms; needs aiohttp (ComfyUI's venv has it)
Reports the median and the 90th percentile in ms, and the machine (cores, threads, load).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import io
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
from machine import machine_line  # benchmarks/machine.py (the script folder is on sys.path)
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blobgan_core import BlobGANConfig, load_model  # noqa: E402
from blobgan_core.generator import BlobGAN  # noqa: E402
from blobgan_core.loading import DEFAULT_MODEL_PATH  # noqa: E402
from blobgan_core.scene import Scene  # noqa: E402
from blobgan_lab.train.options import DEFAULT_PRESET, PRESETS  # noqa: E402
from nodes import preview  # noqa: E402

NODE_ID = "1"


def make_model(args) -> tuple[BlobGAN, str]:
    if args.model:
        return load_model(args.model, device="cpu"), f"{args.model}"
    if args.config is None and DEFAULT_MODEL_PATH.is_file():
        return load_model(device="cpu"), f"the embedded default model ({DEFAULT_MODEL_PATH.name})"
    preset = args.config or DEFAULT_PRESET
    torch.manual_seed(0)
    model = BlobGAN(BlobGANConfig(**PRESETS[preset]["model"])).eval().requires_grad_(False)
    model.set_mean_latent(model.compute_mean_latent(n=500))
    why = "" if args.config else " (the default model file is not there yet: its configuration)"
    return model, f"preset {preset!r} with random weights{why}"


def drag_edits(i: int) -> list[dict]:
    """The edit list a drag sends at its i-th step: one move, a little further each time."""
    return [{"op": "move", "blob": 2, "dx": round(0.002 * i, 5), "dy": round(-0.001 * i, 5)}]


def summary(times: list[float]) -> str:
    times = sorted(times)
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return f"median {statistics.median(times):7.1f} ms   p90 {p90:7.1f} ms   (n={len(times)})"


def time_render(model, scene, n):
    out = []
    with torch.inference_mode():
        model.render(scene.layout, noise=scene.noise)
        for _ in range(n):
            t = time.perf_counter()
            model.render(scene.layout, noise=scene.noise)
            out.append((time.perf_counter() - t) * 1000)
    return out


def time_handler(n, fmt):
    preview.handle_preview({"node_id": NODE_ID, "edits": drag_edits(0), "format": fmt})
    out = []
    for i in range(1, n + 1):
        t = time.perf_counter()
        status, body = preview.handle_preview({"node_id": NODE_ID, "edits": drag_edits(i), "format": fmt})
        out.append((time.perf_counter() - t) * 1000)
        assert status == 200, body
    return out


def serve(port_holder: list, ready: threading.Event, stop: threading.Event):
    from aiohttp import web

    async def main():
        runner = web.AppRunner(preview.make_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_holder.append(site._server.sockets[0].getsockname()[1])
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await runner.cleanup()

    asyncio.run(main())


def time_http(n, fmt):
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return None
    port, ready, stop = [], threading.Event(), threading.Event()
    thread = threading.Thread(target=serve, args=(port, ready, stop), daemon=True)
    thread.start()
    ready.wait(30)
    conn = http.client.HTTPConnection("127.0.0.1", port[0], timeout=30)

    def round_trip(i):
        body = json.dumps({"node_id": NODE_ID, "edits": drag_edits(i), "format": fmt})
        t = time.perf_counter()
        conn.request("POST", preview.ROUTE, body=body, headers={"Content-Type": "application/json"})
        reply = json.loads(conn.getresponse().read())
        data = base64.b64decode(reply["image"].split(",", 1)[1])
        Image.open(io.BytesIO(data)).load()  # the client decodes the pixels too
        return (time.perf_counter() - t) * 1000

    try:
        round_trip(0)
        return [round_trip(i) for i in range(1, n + 1)]
    finally:
        conn.close()
        stop.set()
        thread.join(10)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="a .ckpt or .safetensors file (default: the embedded model)")
    p.add_argument("--config", choices=sorted(PRESETS), default=None,
                   help="time a training preset's configuration with random weights instead")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--format", choices=sorted(preview.FORMATS), default="jpeg",
                   help="image format the widget asks for (it asks for jpeg)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)

    model, what = make_model(a)
    c = model.config
    print(machine_line())
    print(f"model: {what}: {c.resolution} px, K={c.n_blobs}, format {a.format}")
    scene = Scene(model, model.sample_layout(seed=0), noise_seed=0)
    preview.remember_scene(NODE_ID, scene)

    print(f"  render   {summary(time_render(model, scene, a.repeats))}")
    print(f"  handler  {summary(time_handler(a.repeats, a.format))}")
    http_times = time_http(a.repeats, a.format)
    if http_times is None:
        print("  http     skipped: aiohttp is not installed (run with ComfyUI's python)")
    else:
        print(f"  http     {summary(http_times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render speed: ms per image for the released bedroom configuration (random weights) at 256 px.

    python benchmarks/render.py                       # CPU, plus the GPU when there is one
    python benchmarks/render.py --official-repo PATH  # also time the official code side by side
    python benchmarks/render.py --config default      # the embedded default model instead

Reports ms per image (median of --repeats timed runs after a warm-up) at batch 1 and 8 for the fast path
and the reference formulas (the renderer's default, impl="auto", takes the fast path on the CPU and the
formulas elsewhere, which is what these rows showed on an H100), the achieved
GFLOP/s (convolution arithmetic only, counted from the configuration) against a convolution ceiling
measured on the same machine (a large channels_last 3x3 conv), and with --official-repo the ratio
ours / official, measured in the same process on the same weights, layout and noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from machine import machine_line  # benchmarks/machine.py (the script folder is on sys.path)

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from blobgan_core import BlobGANConfig, load_model  # noqa: E402
from blobgan_core.generator import BlobGAN  # noqa: E402


def conv_flops(c: BlobGANConfig) -> float:
    """Multiply-adds x 2 of the decoder's convolutions for one image."""
    r0 = c.size_in
    flops = 2 * c.d_in * c.channels(r0) * 9 * r0 * r0 + 2 * c.channels(r0) * 3 * r0 * r0
    for j in range(c.n_up):
        r_in, r_out = r0 * 2 ** j, r0 * 2 ** (j + 1)
        ci, co = c.channels(r_in), c.channels(r_out)
        flops += 2 * ci * co * 9 * r_in * r_in      # transposed conv, counted at its input resolution
        flops += 2 * co * co * 9 * r_out * r_out    # 3x3 conv
        flops += 2 * co * 3 * r_out * r_out         # toRGB
    return float(flops)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_ms(fn, device, repeats: int) -> float:
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def conv_ceiling_gflops(device, dtype, repeats: int) -> float:
    """GFLOP/s of a large channels_last 3x3 convolution: what this machine's conv kernels can reach."""
    x = torch.randn(1, 384, 128, 128, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(384, 384, 3, 3, device=device, dtype=dtype)
    with torch.no_grad():
        ms = time_ms(lambda: F.conv2d(x, w, padding=1), device, repeats)
    return 2 * 384 * 384 * 9 * 128 * 128 / ms / 1e6


def make_model(name: str, device, dtype) -> BlobGAN:
    if name == "default":
        return load_model(device=device, dtype=dtype)
    torch.manual_seed(0)
    model = BlobGAN(BlobGANConfig())  # the released bedroom configuration
    model.set_mean_latent(model.compute_mean_latent(n=1000))
    return model.to(device, dtype).eval().requires_grad_(False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=["bedroom", "default"], default="bedroom")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    p.add_argument("--official-repo", default=None, help="a checkout of dave-epstein/blobgan to time beside ours")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    devices = a.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    print(machine_line())

    for dev_name in devices:
        device = torch.device(dev_name)
        dtypes = [torch.float32] + ([torch.float16, torch.bfloat16] if device.type == "cuda" else [])
        for dtype in dtypes:
            model = make_model(a.config, device, dtype)
            c = model.config
            ceiling = conv_ceiling_gflops(device, dtype, a.repeats)
            print(f"\n[{dev_name} {str(dtype).replace('torch.', '')}] {a.config} config: {c.resolution} px, "
                  f"K={c.n_blobs}, {conv_flops(c) / 1e9:.1f} GFLOP of convolutions per image; "
                  f"conv ceiling {ceiling:.0f} GFLOP/s")
            official = None
            if a.official_repo and device.type == "cpu" and dtype == torch.float32:
                official = load_official(a.official_repo, model)
            for batch in a.batches:
                print(time_batch(model, official, batch, device, a.repeats, ceiling))
    return 0


def time_batch(model: BlobGAN, official, batch: int, device, repeats: int, ceiling: float) -> str:
    """One result line: ours (fast and reference paths) and, when given, the official generator."""
    z = model.make_z(seed=0, batch=batch)
    noise = model.noise(0)

    def ours(impl="fast"):
        # the whole generator, as the official gen(z) times it: layout network, splat, decoder
        return model.generator(model.sample_layout(z=z, truncation=0.4), noise, impl=impl)

    with torch.no_grad():
        ms = time_ms(ours, device, repeats) / batch
        ref_ms = time_ms(lambda: ours("ref"), device, max(1, repeats // 2)) / batch
    gflops = conv_flops(model.config) / ms / 1e6
    line = (f"  batch {batch}: fast path {ms:8.1f} ms/image  ({gflops:.0f} GFLOP/s = {gflops / ceiling:.0%} of "
            f"ceiling); reference formulas {ref_ms:.1f} ms/image")
    if official is not None:
        off_ms = time_ms(lambda: official.render(z, noise, 0.4, model.mean_latent), device, repeats) / batch
        line += f"; official {off_ms:.1f} ms/image; ours/official = {ms / off_ms:.2f}"
    return line


def load_official(repo: str, model: BlobGAN):
    """The official generator (benchmarks/official_reference.py) holding our model's weights."""
    from official_hparams import official_hparams
    from official_reference import load_official_generator

    return load_official_generator(repo, official_hparams(model.config), model.state_dict())


if __name__ == "__main__":
    sys.exit(main())

"""Training a layout encoder for a BlobGAN model (the official inverter recipe, without LPIPS).

Each step draws z with truncation t ~ U[trunc_min, trunc_max], renders it with the frozen model and
fresh noise, and asks the encoder for the raw layout vector:

    loss = latent_weight * mean over {xs, ys, covs, sizes, features, spatial_style} of MSE(E's, true)
         + MSE(render(E(x)), x)
         + real_weight * MSE(render(E(real)), real)       (when --real is given)

Adam/AdamW at lr 0.002 as officially; no jitter. The same runner as ``train`` runs it on the CPU, one
GPU or several (torchrun), and ``--resume`` continues from OUT/encoder_last.pt.

    python -m blobgan_lab train-encoder --model MODEL.safetensors --out runs/enc --steps 4000
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch

from blobgan_core.invert.encoder import LayoutEncoder, load_encoder, save_encoder
from blobgan_core.layout import TENSOR_FIELDS
from blobgan_core.loading import load_model

from . import distributed
from .loop import StopRequest, open_dataset, wrap_ddp
from .progress import format_duration, note
from .state import load_train_state, save_train_state

STATE_NAME = "encoder_last.pt"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m blobgan_lab train-encoder",
                                description="Train an image -> layout encoder for a BlobGAN model; writes "
                                            "OUT/encoder.safetensors (copy it beside the model as "
                                            "<model stem>_encoder.safetensors).")
    p.add_argument("--model", default=None, help="the BlobGAN model (.safetensors or .ckpt); default: embedded")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--latent-weight", type=float, default=10.0)
    p.add_argument("--trunc-min", type=float, default=0.0)
    p.add_argument("--trunc-max", type=float, default=0.6)
    p.add_argument("--real", default="rooms", help="'rooms', a folder of images, or 'none'")
    p.add_argument("--real-weight", type=float, default=1.0)
    p.add_argument("--channel-base", type=int, default=4096)
    p.add_argument("--max-channels", type=int, default=128)
    p.add_argument("--init-from", default=None, help="start from this encoder file")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=50, help="progress line and log record every N steps")
    p.add_argument("--save-every", type=int, default=500)
    return p


def layout_mse(pred, true) -> torch.Tensor:
    """Mean over the six layout tensors of their MSE (scalar), the official latent loss."""
    return sum(torch.mean((getattr(pred, n) - getattr(true, n)) ** 2) for n in TENSOR_FIELDS) / len(TENSOR_FIELDS)


def train_encoder_cli(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.steps < 1 or args.batch < 1 or not args.lr > 0:
        raise ValueError("--steps and --batch must be >= 1 and --lr > 0")
    if not 0 <= args.trunc_min <= args.trunc_max <= 1:
        raise ValueError("need 0 <= --trunc-min <= --trunc-max <= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = distributed.setup(args.device)
    try:
        return _run(args, ctx)
    finally:
        distributed.teardown(ctx)


def _run(args, ctx) -> int:
    os.makedirs(args.out, exist_ok=True)
    device = ctx.device
    model = load_model(args.model, device=device).requires_grad_(False)
    config = model.config
    encoder = LayoutEncoder.for_model(config, args.channel_base, args.max_channels).to(device)
    if args.init_from:
        encoder.load_state_dict(load_encoder(args.init_from).state_dict())
    opt = torch.optim.AdamW(encoder.parameters(), lr=args.lr, betas=(0.9, 0.99))
    step = 0
    state_path = os.path.join(args.out, STATE_NAME)
    if args.resume and os.path.exists(state_path):
        state = load_train_state(state_path)
        encoder.load_state_dict(state["E"])
        opt.load_state_dict(state["opt_E"])
        step = int(state["step"])
        note(f"resumed {state_path} at step {step}")
    encoder.train().requires_grad_(True)
    net = wrap_ddp(encoder, device) if ctx.distributed else encoder
    real = open_dataset(args.real, config.resolution, args.seed) if args.real != "none" else None
    gen = torch.Generator().manual_seed(args.seed * 1000 + ctx.rank)
    mean = model.ensure_mean_latent()
    window: dict[str, float] = {}
    t_last, s_last = time.perf_counter(), step

    def save():
        if ctx.is_main:
            save_train_state(state_path, {"step": step, "kind": "encoder", "E": encoder.state_dict(),
                                          "opt_E": opt.state_dict(), "args": vars(args)})
            save_encoder(os.path.join(args.out, "encoder.safetensors"), encoder,
                         {"trained_steps": step, "model": os.path.basename(getattr(model, "source_path", "")),
                          "recipe": f"layout MSE x{args.latent_weight:g} + image MSE (+ real x{args.real_weight:g})"})

    with StopRequest(ctx.is_main) as stop:
        while step < args.steps and not stop.requested:
            g = torch.Generator().manual_seed(args.seed * 7_919 + step * 131 + ctx.rank)
            z = torch.randn(args.batch, config.noise_dim, generator=g).to(device)
            t = (args.trunc_min + (args.trunc_max - args.trunc_min) * torch.rand(args.batch, 1, generator=g)).to(device)
            with torch.no_grad():
                true = model.layout_net(z, truncation=t, mean_latent=mean)
                noise = [torch.randn(args.batch, *s[1:], generator=g).to(device) for s in config.noise_shapes()]
                x = model.generator(true, noise=noise)
            pred = model.layout_net.decode(net(x))
            lat = layout_mse(pred, true)
            img = torch.mean((model.generator(pred, noise=noise) - x) ** 2)
            loss = args.latent_weight * lat + img
            parts = {"latent": lat.detach(), "image": img.detach()}
            if real is not None and args.real_weight:
                idx = torch.randint(0, len(real), (args.batch,), generator=gen).tolist()
                xr = real.batch(idx).to(device)
                rimg = torch.mean((model.generator(model.layout_net.decode(net(xr)), noise=noise) - xr) ** 2)
                loss = loss + args.real_weight * rimg
                parts["real"] = rimg.detach()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            for k, v in parts.items():
                window[k] = window.get(k, 0.0) + float(v)
            if ctx.is_main and (step % args.every == 0 or step == args.steps):
                n = step - s_last
                sec = (time.perf_counter() - t_last) / max(n, 1)
                psnr = {k: 10 * math.log10(4 / max(v / n, 1e-10)) for k, v in window.items() if k != "latent"}
                note(f"step {step}/{args.steps} | latent {window.get('latent', 0) / n:.4f} | PSNR "
                     + " ".join(f"{k} {v:.2f}" for k, v in psnr.items())
                     + f" | {sec:.3f} s/step | ETA {format_duration(sec * (args.steps - step))}")
                window, t_last, s_last = {}, time.perf_counter(), step
            if step % args.save_every == 0:
                save()
    save()
    if ctx.is_main:
        note(f"wrote {os.path.join(args.out, 'encoder.safetensors')} at step {step}")
    return 0

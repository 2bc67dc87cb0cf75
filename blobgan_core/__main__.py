"""Command line: ``python -m blobgan_core {render,convert,info} ...``.

Training lives in the lab (``python -m blobgan_lab train``); running a workflow headlessly is the node
pack's job (``python path/to/pack WORKFLOW.json``): the core imports neither.
"""

from __future__ import annotations

import argparse
import sys


def render_cli(argv: list[str]) -> int:
    """Sample scenes and write their images and blob maps as PNG files."""
    from . import load_model
    from .images import save_png, to_uint8, unit_to_uint8

    p = argparse.ArgumentParser(prog="python -m blobgan_core render", description=render_cli.__doc__)
    p.add_argument("--model", default=None, help="checkpoint (.ckpt or .safetensors); default: the embedded model")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--count", type=int, default=4, help="number of scenes (seeds seed..seed+count-1)")
    p.add_argument("--truncation", type=float, default=0.4, help="0 = none, 1 = the mean layout")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    a = p.parse_args(argv)
    model = load_model(a.model, device=a.device)
    for seed in range(a.seed, a.seed + a.count):
        layout = model.sample_layout(seed=seed, truncation=a.truncation)
        image = to_uint8(model.render(layout))[0]
        blobs = unit_to_uint8(model.blob_map(layout, labels=True))[0]
        print(save_png(f"{a.out}/seed{seed:05d}.png", image), save_png(f"{a.out}/seed{seed:05d}_blobs.png", blobs))
    return 0


def info_cli(argv: list[str]) -> int:
    """Print a checkpoint's configuration (reads it safely; nothing in it runs)."""
    from .checkpoint import read_checkpoint

    p = argparse.ArgumentParser(prog="python -m blobgan_core info", description=info_cli.__doc__)
    p.add_argument("path")
    a = p.parse_args(argv)
    config, state_dict, mean_latent, info = read_checkpoint(a.path)
    print(config.to_json())
    n = sum(t.numel() for t in state_dict.values())
    print(f"{len(state_dict)} tensors, {n / 1e6:.2f}M parameters, mean latent: "
          f"{'yes' if mean_latent is not None else 'no (computed on load)'}")
    for k, v in sorted(info.items()):
        print(f"{k}: {v}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {
        "render": ("sample scenes and write PNGs", lambda rest: render_cli(rest)),
        "convert": ("official .ckpt -> our .safetensors",
                    lambda rest: _lazy("blobgan_core.checkpoint", "convert_cli")(rest)),
        "info": ("print a checkpoint's configuration", lambda rest: info_cli(rest)),
    }
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: python -m blobgan_core COMMAND [options]\n\ncommands:")
        for name, (help_text, _) in commands.items():
            print(f"  {name:8s} {help_text}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return commands[argv[0]][1](argv[1:]) or 0
    except (ValueError, OSError) as e:  # what a user can fix: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 1


def _lazy(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(module), name)


if __name__ == "__main__":
    sys.exit(main())

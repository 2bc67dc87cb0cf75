"""``python -m blobgan_lab train ...``: command-line front end of the trainer.

Every model or training flag defaults to the chosen preset's value; when resuming, to the value the
checkpoint was trained with (so ``--resume`` alone continues the same run, and e.g. ``--steps`` extends it).
"""

from __future__ import annotations

import argparse
import os
import sys

from blobgan_core.config import BlobGANConfig

from .loop import CHECKPOINT_NAME, train
from .options import DEFAULT_PRESET, MODEL_FIELDS, PRESETS, TRAIN_FIELDS, TrainOptions, check_options, resolve
from .state import load_train_state


def _on_off(text: str) -> bool:
    value = text.lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m blobgan_lab train",
        description="Train a BlobGAN (layout network + decoder) with the official recipe: non-saturating "
                    "logistic loss, lazy R1, EMA generator, blob jitter, StyleGAN2 discriminator.",
        epilog="Presets: " + "; ".join(
            f"{name}: {p['model']['resolution']}px, c_model {p['model']['c_model']}, "
            f"K {p['model']['n_blobs']}, batch {p['train']['batch']}" for name, p in PRESETS.items()))
    a = p.add_argument
    g = p.add_argument_group("run")
    g.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help=f"named defaults for everything below (default {DEFAULT_PRESET})")
    g.add_argument("--data", help="'rooms' (procedural bedrooms), 'rooms:N' (N of them) or a folder of "
                                  "images (default rooms)")
    g.add_argument("--out", help="output folder (default runs/<preset>)")
    g.add_argument("--resume", nargs="?", const="auto", default=None, metavar="PATH",
                   help="continue from OUT/last.pt if it exists (or from PATH); without --resume an "
                        "existing OUT/last.pt is an error")
    g.add_argument("--steps", type=int, help="total training steps")
    g.add_argument("--batch", type=int, help="images per process per step")
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="auto | cpu | cuda | cuda:N (default auto)")
    g.add_argument("--threads", type=int, help="torch CPU threads (0 = torch default)")
    g.add_argument("--data-workers", type=int, dest="data_workers",
                   help="background threads preparing the next batches (default 1; 0 = none)")

    g = p.add_argument_group("model (BlobGANConfig)")
    g.add_argument("--resolution", type=int, help="output side, a power of two")
    g.add_argument("--size-in", type=int, dest="size_in", help="side of the splatted feature grid")
    g.add_argument("--c-model", type=int, dest="c_model", help="decoder channel base")
    g.add_argument("--channel-multiplier", type=int, dest="channel_multiplier")
    g.add_argument("--blobs", type=int, dest="n_blobs", help="blobs per scene K")
    g.add_argument("--d-in", type=int, dest="d_in", help="structure feature size")
    g.add_argument("--d-style", type=int, dest="d_style", help="style feature size")
    g.add_argument("--noise-dim", type=int, dest="noise_dim", help="z size")
    g.add_argument("--mlp-width", type=int, dest="mlp_width", help="hidden width of the layout MLP")
    g.add_argument("--mlp-depth", type=int, dest="mlp_depth", help="linear layers in the layout MLP")
    g.add_argument("--ab-norm", type=float, dest="ab_norm", help="blob covariance scale (official 0.02)")

    g = p.add_argument_group("discriminator")
    g.add_argument("--d-channels", type=int, dest="d_max_channels", help="max channels of D")
    g.add_argument("--d-channel-base", type=int, dest="d_channel_base",
                   help="D channels at resolution r are min(base / r, --d-channels)")

    g = p.add_argument_group("optimization and regularization")
    g.add_argument("--lr", type=float, help="Adam learning rate (official 0.002)")
    g.add_argument("--r1", type=float, help="R1 weight on ||grad D(x)||^2 (official 50; 0 = off)")
    g.add_argument("--d-reg-every", type=int, dest="d_reg_every", help="lazy R1 interval (official 16)")
    g.add_argument("--ema-decay", type=float, dest="ema_decay",
                   help="per-step EMA decay (official 0.5**(32/10000) = 0.99778)")
    g.add_argument("--ema-kimg", type=float, dest="ema_kimg",
                   help="EMA half-life in thousands of images (overrides --ema-decay)")
    g.add_argument("--jitter", type=_on_off, metavar="on|off", help="blob jitter (default on)")
    g.add_argument("--jitter-xy", type=float, dest="jitter_xy", help="max centre shift (0.04)")
    g.add_argument("--jitter-size", type=float, dest="jitter_size", help="max size-logit change (0.5)")
    g.add_argument("--jitter-angle", type=float, dest="jitter_angle", help="max rotation, radians (0.1)")
    g.add_argument("--carry", type=float,
                   help="weight of the carry loss: moved blobs must take their content along (0 = off)")
    g.add_argument("--carry-shift", type=float, dest="carry_shift", help="longest carry move, image widths (0.12)")
    g.add_argument("--init-from", dest="init_from", metavar="MODEL",
                   help="fine-tune: start G from this .safetensors/.ckpt (same configuration); D starts fresh")
    g.add_argument("--d-warmup", type=int, dest="d_warmup", help="first steps that train D only (fine-tuning)")
    g.add_argument("--flip", type=_on_off, metavar="on|off", help="random horizontal flips (default on)")

    g = p.add_argument_group("outputs")
    g.add_argument("--log-every", type=int, dest="log_every", help="steps between progress lines")
    g.add_argument("--sample-every", type=int, dest="sample_every", help="steps between sample grids")
    g.add_argument("--ckpt-every", type=int, dest="ckpt_every", help="steps between checkpoints")
    g.add_argument("--n-samples", type=int, dest="n_samples", help="images per sample grid")
    g.add_argument("--mean-latent-samples", type=int, dest="mean_latent_samples",
                   help="z samples averaged for the exported mean latent (10000)")
    del a
    for action in p._actions:   # short placeholders keep --help readable
        if action.metavar is None and action.type in (int, float):
            action.metavar = "N" if action.type is int else "X"
    return p


def plan_run(args: argparse.Namespace) -> tuple[BlobGANConfig, TrainOptions, dict | None]:
    """(config, options, loaded checkpoint or None) from parsed flags; raises ValueError on bad input."""
    given = {k: v for k, v in vars(args).items()
             if v is not None and (k in MODEL_FIELDS or k in TRAIN_FIELDS) and k != "preset"}
    preset = args.preset or DEFAULT_PRESET
    given.setdefault("out", os.path.join("runs", preset))

    state = None
    if args.resume is not None:
        path = os.path.join(given["out"], CHECKPOINT_NAME) if args.resume == "auto" else args.resume
        if os.path.isfile(path):
            state = load_train_state(path)
        elif args.resume != "auto":
            raise ValueError(f"--resume {path}: no such checkpoint")
    if state is None:
        config, options = resolve(preset, given)
        return config, options, None

    # Resuming: the checkpoint's settings are the defaults, explicit flags still win.
    saved_options = {k: v for k, v in state["options"].items() if k in TRAIN_FIELDS}
    if args.preset is not None and args.preset != saved_options.get("preset"):
        raise ValueError(f"--preset {args.preset}: the checkpoint was trained with preset "
                         f"{saved_options.get('preset')!r}; drop --preset when resuming")
    changed = {k: (state["config"][k], v) for k, v in given.items()
               if k in MODEL_FIELDS and state["config"].get(k) != v}
    if changed:
        raise ValueError(f"cannot resume with a different model ({{field: (checkpoint, flag)}} = {changed}); "
                         "drop those flags or choose a new --out")
    config = BlobGANConfig(**state["config"])
    options = TrainOptions(**{**saved_options, **{k: v for k, v in given.items() if k in TRAIN_FIELDS}})
    check_options(options, config)
    return config, options, state


def train_cli(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv``, train, return an exit status (0 done, 2 bad input, 130 stopped)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config, options, state = plan_run(args)
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    try:
        result = train(config, options, resume=state if state is not None else args.resume is not None)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 130 if result.stopped_early else 0


if __name__ == "__main__":
    sys.exit(train_cli())

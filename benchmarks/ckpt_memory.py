"""Peak memory of reading an official-size BlobGAN checkpoint, versus the size of its EMA weights.

    python benchmarks/ckpt_memory.py                 # ~575 MB file: EMA + training copies + discriminator
    python benchmarks/ckpt_memory.py --optimizer     # ~1.26 GB file: plus Adam states
    python benchmarks/ckpt_memory.py --legacy        # the same in torch's legacy (non-zip) format
    python benchmarks/ckpt_memory.py --dir /some/tmp --keep

Builds a fake checkpoint with the bedroom configuration (random weights, the official layout; see
tests/checkpoint_factory.py) outside the repository, then measures each step in a fresh process as
peak RSS (``ru_maxrss``) minus the RSS after importing torch and this package:

- ``read``: read_official_checkpoint, tensors left as views of the mapped file (a legacy-format file
  cannot be mapped: torch reads it whole);
- ``read+touch``: the same, then every EMA tensor read once (sum), so all its pages are resident;
- ``load_model``: blobgan_core.load_model on the CPU, then every weight read once (all pages resident);
- ``convert``: convert_checkpoint to .safetensors;
- ``torch.load``: plain torch.load(weights_only=False) with the stand-in classes, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _child(mode: str, ckpt: Path, out_dir: Path) -> dict:
    import torch

    from blobgan_core.checkpoint import convert_checkpoint, read_official_checkpoint

    base = _peak_mb()
    t0 = time.perf_counter()
    extra = {}
    if mode == "build":
        import checkpoint_factory as cf

        from blobgan_core.config import BlobGANConfig
        config = BlobGANConfig()
        ours = cf.random_state_dict(config)
        cf.write_official_ckpt(ckpt, cf.official_state_dict_from_ours(ours, config), config,
                               include_optimizer=os.environ.get("BENCH_OPTIMIZER") == "1",
                               discriminator_numel=28_860_000,
                               legacy_format=os.environ.get("BENCH_LEGACY") == "1")
        extra["ema_numel"] = sum(t.numel() for t in ours.values())
    elif mode in ("read", "read+touch"):
        config, sd, _ = read_official_checkpoint(ckpt)
        if mode == "read+touch":
            total = sum(float(t.sum()) for t in sd.values())
            assert total == total
    elif mode == "load_model":
        from blobgan_core import load_model
        # a given mean latent: computing one (10,000 samples) would time the layout network, not loading
        model = load_model(ckpt, device="cpu", mean_latent=torch.zeros(1024))
        total = sum(float(p.sum()) for p in model.parameters())
        assert total == total
    elif mode == "convert":
        convert_checkpoint(ckpt, out_dir / "converted.safetensors")
    elif mode == "torch.load":
        import checkpoint_factory as cf
        with cf.fake_training_modules():
            torch.load(ckpt, map_location="cpu", weights_only=False)
    else:
        raise ValueError(mode)
    return {"mode": mode, "seconds": round(time.perf_counter() - t0, 2), "baseline_mb": round(base, 1),
            "peak_mb": round(_peak_mb(), 1), "delta_mb": round(_peak_mb() - base, 1), **extra}


def _run_child(mode: str, ckpt: Path, out_dir: Path, optimizer: bool, legacy: bool) -> dict:
    env = dict(os.environ, BENCH_OPTIMIZER="1" if optimizer else "0", BENCH_LEGACY="1" if legacy else "0")
    result = subprocess.run([sys.executable, __file__, "--child", mode, "--ckpt", str(ckpt), "--dir", str(out_dir)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=None, help="where to write the fake checkpoint (default: a temp dir)")
    p.add_argument("--optimizer", action="store_true", help="include Adam states (~1.26 GB file)")
    p.add_argument("--legacy", action="store_true", help="write the checkpoint in torch's legacy format")
    p.add_argument("--keep", action="store_true", help="keep the files afterwards")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--ckpt", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(_child(a.child, a.ckpt, a.dir)))
        return 0

    # Nothing heavy happens in this process: a child's ru_maxrss starts at its parent's RSS (Linux keeps
    # the high-water mark across fork and exec), so a large parent would hide the children's baselines.
    work = a.dir or Path(tempfile.mkdtemp(prefix="blobgan-ckpt-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / "bedrooms.ckpt"
    try:
        build = _run_child("build", ckpt, work, a.optimizer, a.legacy)
        ema_numel = build["ema_numel"]
        ema_mb = ema_numel * 4 / 2**20
        file_mb = ckpt.stat().st_size / 2**20
        print(f"fake official checkpoint: {file_mb:.0f} MiB ({build['seconds']} s to build); "
              f"EMA weights: {ema_numel / 1e6:.2f}M params = {ema_mb:.0f} MiB fp32")
        print(f"{'step':<12} {'peak-baseline MiB':>18} {'x EMA':>7} {'peak MiB':>9} {'s':>6}")
        for mode in ("read", "read+touch", "load_model", "convert", "torch.load"):
            r = _run_child(mode, ckpt, work, a.optimizer, a.legacy)
            print(f"{mode:<12} {r['delta_mb']:>18.0f} {r['delta_mb'] / ema_mb:>7.2f} {r['peak_mb']:>9.0f} "
                  f"{r['seconds']:>6}")
        print(f"(baseline = RSS after importing torch and blobgan_core: {r['baseline_mb']:.0f} MiB)")
    finally:
        if not a.keep:
            for f in (ckpt, work / "converted.safetensors"):
                if f.exists():
                    f.unlink()
            if a.dir is None:
                work.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())

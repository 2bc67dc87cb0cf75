"""Throughput of the procedural bedroom generator on one CPU core.

    python benchmarks/data_rooms.py [--n 1024] [--repeats 3] [--sizes 64 128]

Prints images per second for ``RoomDataset.batch`` (what the trainer calls: images only) and for
``render_rooms`` (images + label maps + object lists), best of ``--repeats`` runs. Both wall-clock
and process CPU time are reported: on a shared machine the CPU-time figure is the fairer one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from machine import machine_line  # benchmarks/machine.py (the script folder is on sys.path)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blobgan_lab.data import RoomDataset, render_rooms  # noqa: E402


def _best(fn, repeats: int) -> tuple[float, float]:
    """Smallest (wall, cpu) seconds of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="images per timed call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(machine_line() + ", 1 process")
    indices = np.arange(args.n)
    for size in args.sizes:
        ds = RoomDataset(size=size, seed=0)
        ds.batch(indices[:64])                                  # warm up
        for name, fn in (("RoomDataset.batch", lambda ds=ds: ds.batch(indices)),
                         ("render_rooms (labels+objects)",
                          lambda size=size: render_rooms(indices, size=size, seed=0))):
            wall, cpu = _best(fn, args.repeats)
            print(f"{size:4d} px  {name:30s} {args.n / wall:8.0f} img/s wall  {args.n / cpu:8.0f} img/s cpu")


if __name__ == "__main__":
    main()

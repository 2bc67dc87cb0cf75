"""Progress lines on stderr and the machine-readable OUT/log.jsonl.

Loss values are accumulated on the device and read back only when a line is printed, so logging
does not force a device sync every step.
"""

from __future__ import annotations

import json
import math
import sys
import time

import torch


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class MetricWindow:
    """Running sums of scalar tensors since the last report."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, value: torch.Tensor) -> None:
        value = value.detach().float()
        self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
        self.counts[name] = self.counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        out = {k: float(v.item()) / self.counts[k] for k, v in self.sums.items()}
        self.sums.clear()
        self.counts.clear()
        return out


class ProgressReporter:
    """Prints ``[####....] step s/S | D .. G .. R1 .. | x img/s | ETA`` and appends JSONL records."""

    def __init__(self, total_steps: int, start_step: int, images_per_step: int, log_path: str | None,
                 stream=None, bar_width: int = 20):
        self.total = total_steps
        self.images_per_step = images_per_step
        self.log_path = log_path
        self.stream = stream if stream is not None else sys.stderr
        self.bar_width = bar_width
        self._last_step = start_step
        self._last_time = time.perf_counter()
        self._sec_per_step: float | None = None
        self._excluded = 0.0
        self.window = MetricWindow()
        self.last_r1: float | None = None

    def report(self, step: int, extra: dict | None = None) -> dict:
        """Print one line for the window ending after ``step`` completed steps; return the record."""
        now = time.perf_counter()
        steps = max(step - self._last_step, 1)
        sec_per_step = max(now - self._last_time - self._excluded, 1e-9) / steps
        self._excluded = 0.0
        # Smooth the speed so one slow window (sampling, checkpointing) doesn't swing the ETA.
        self._sec_per_step = sec_per_step if self._sec_per_step is None else \
            0.7 * self._sec_per_step + 0.3 * sec_per_step
        self._last_step, self._last_time = step, now
        metrics = self.window.means()
        if "r1" in metrics:
            self.last_r1 = metrics["r1"]
        record = {"step": step, "time": time.time(), **metrics,
                  "sec_per_step": sec_per_step, "img_per_s": self.images_per_step / sec_per_step,
                  **(extra or {})}
        filled = int(self.bar_width * step / self.total)
        bar = "#" * filled + "." * (self.bar_width - filled)
        r1 = "-" if self.last_r1 is None else f"{self.last_r1:.4g}"
        eta = format_duration(self._sec_per_step * (self.total - step))
        g = f"{metrics['g_loss']:.4f}" if "g_loss" in metrics else "-"   # "-": D-only warm-up
        carry = f" carry {metrics['carry_in']:.4f}/{metrics['carry_out']:.4f}" if "carry_in" in metrics else ""
        line = (f"[{bar}] step {step}/{self.total} | D {metrics.get('d_loss', float('nan')):.4f} "
                f"G {g}{carry} R1 {r1} | "
                f"{record['img_per_s']:.1f} img/s {sec_per_step:.3f} s/step | ETA {eta}")
        print(line, file=self.stream, flush=True)
        if self.log_path:
            self.write(record)
        return record

    def write(self, record: dict) -> None:
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (spent writing samples or checkpoints) out of the training speed."""
        self._excluded += seconds


def note(message: str, stream=None) -> None:
    print(message, file=stream if stream is not None else sys.stderr, flush=True)

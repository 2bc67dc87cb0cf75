"""The BlobGAN training loop, as the official code trains (at any scale).

One step = one generator update then one discriminator update, each on a fresh z and fresh noise
(the official Lightning module runs G then D on every batch):

- G: images from z through the layout network, blob jitter and the decoder; non-saturating loss
  softplus(-D(G(z))); Adam; then the EMA copy (layout network + decoder) moves towards G.
- D: logistic loss softplus(-D(x)) + softplus(D(G(z))); every ``d_reg_every`` steps the lazy R1
  penalty ``r1 * d_reg_every * ||dD(x)/dx||^2`` is added to the same update.
- Adam (official): lr 0.002, betas (0, 0.99), eps 1e-5. D gets the lazy-regularization correction
  lr * c, betas ** c with c = d_reg_every / (d_reg_every + 1). G has no path-length regularization
  (official G_reg_every = -1), so its correction is 1.

Differences from the official loop: the EMA moves after G's Adam step (officially it is updated inside
the closure, one step behind); sample grids render without jitter and with fixed noise.
"""

from __future__ import annotations

import copy
import inspect
import os
import signal
import threading
import time
from dataclasses import dataclass

import torch
from torch import nn

from blobgan_core.config import BlobGANConfig
from blobgan_core.generator import BlobGAN, seeded_normal
from blobgan_core.images import image_grid, save_png, to_uint8, unit_to_uint8

from ..data import make_dataset
from . import distributed
from .batches import BatchStream, Prefetcher
from .carry import carry_loss
from .discriminator import Discriminator
from .ema import update_ema
from .jitter import jitter_layout
from .losses import d_logistic_loss, g_nonsaturating_loss, r1_penalty
from .options import TrainOptions, check_options
from .progress import ProgressReporter, note
from .state import load_train_state, save_model, save_train_state, write_json

CHECKPOINT_NAME = "last.pt"
MODEL_NAME = "model.safetensors"
LOG_NAME = "log.jsonl"
MAX_BAD_STEPS = 50  # consecutive non-finite losses before giving up


# -- networks and optimizers ------------------------------------------------------------------------

class GeneratorStep(nn.Module):
    """z [N,noise_dim] -> layout -> jitter -> image [N,3,R,R]: one forward, so DDP can wrap it."""

    def __init__(self, model: BlobGAN, jitter: tuple[float, float, float]):
        super().__init__()
        self.model = model
        self.jitter = jitter

    def layout(self, z: torch.Tensor):
        layout = self.model.layout_net(z)
        if any(self.jitter):
            xy, size, angle = self.jitter
            layout = jitter_layout(layout, xy=xy, size=size, angle=angle)
        return layout

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.generator(self.layout(z))   # noise=None: fresh per-layer noise, as in training


def build_networks(config: BlobGANConfig, options: TrainOptions, device: torch.device):
    """(G, G_ema, D) initialized from ``options.seed`` (identical on every rank)."""
    torch.manual_seed(options.seed)
    model = BlobGAN(config).to(device).train()
    model_ema = copy.deepcopy(model).eval().requires_grad_(False)
    disc = Discriminator(config.resolution, channel_base=options.d_channel_base,
                         max_channels=options.d_max_channels).to(device).train()
    return model, model_ema, disc


def build_optimizers(model: nn.Module, disc: nn.Module, options: TrainOptions):
    """Adam for G and D with the official lazy-regularization corrections (see module docstring)."""
    def adam(params, ratio):
        return torch.optim.Adam(params, lr=options.lr * ratio, eps=options.adam_eps,
                                betas=(options.beta1 ** ratio, options.beta2 ** ratio))

    d_ratio = options.d_reg_every / (options.d_reg_every + 1)
    return adam(model.parameters(), 1.0), adam(disc.parameters(), d_ratio)


def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel without per-forward buffer syncing (the networks keep no running stats)."""
    ddp = torch.nn.parallel.DistributedDataParallel
    kwargs = {"device_ids": [device.index] if device.type == "cuda" else None}
    # torch >= 2.12 renames broadcast_buffers; older versions (as ComfyUI installs may have) lack the new name.
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:
        kwargs["forward_sync_buffers"] = False
    else:
        kwargs["broadcast_buffers"] = False
    return ddp(module, **kwargs)


# -- stopping on signals ----------------------------------------------------------------------------

class StopRequest:
    """SIGTERM / first Ctrl-C ask the loop to stop after the current step (it saves first);
    a second Ctrl-C interrupts at once."""

    def __init__(self, verbose: bool):
        self.requested = False
        self.verbose = verbose
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        if self.verbose:
            note(f"\n{signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
                 "(Ctrl-C again to abort without saving)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


# -- data -------------------------------------------------------------------------------------------

def open_dataset(spec: str, resolution: int, seed: int):
    """The dataset named by ``--data`` ("rooms", "rooms:N" or a folder of images) at ``resolution``.

    Flips are not requested here: the trainer draws them itself, seeded by step, so resumes repeat them.
    """
    return make_dataset(spec, resolution, seed)


# -- the trainer ------------------------------------------------------------------------------------

def _cloned(obj):
    """``obj`` with every tensor in its dicts and lists cloned."""
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        return {k: _cloned(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cloned(v) for v in obj)
    return obj


@dataclass
class TrainResult:
    step: int                 # completed steps
    out: str                  # output folder
    model_path: str | None    # OUT/model.safetensors (None on ranks > 0)
    stopped_early: bool       # True after SIGTERM / Ctrl-C


class Trainer:
    """Owns the networks, optimizers and bookkeeping of one run; see :func:`train`."""

    def __init__(self, config: BlobGANConfig, options: TrainOptions, ctx: distributed.DistContext,
                 dataset, state: dict | None, stream=None):
        self.config = config
        self.options = options
        self.ctx = ctx
        self.stream = stream
        self.out = options.out
        self.device = ctx.device
        self.global_batch = options.batch * ctx.world_size

        self.model, self.model_ema, self.disc = build_networks(config, options, self.device)
        self.opt_g, self.opt_d = build_optimizers(self.model, self.disc, options)
        self.g_step = GeneratorStep(self.model, options.jitter_values)
        self.g_train, self.d_train = self.g_step, self.disc
        if ctx.distributed:
            if options.carry > 0:
                raise ValueError("--carry runs in one process for now; train without torchrun, or with --carry 0")
            self.g_train, self.d_train = wrap_ddp(self.g_step, self.device), wrap_ddp(self.disc, self.device)
        self.batches = BatchStream(dataset, options.batch, options.seed, ctx.rank, ctx.world_size,
                                   flip=options.flip, resolution=config.resolution)
        self.sample_z = seeded_normal((options.n_samples, config.noise_dim), options.seed)
        self.step = 0
        self.images = 0          # images seen so far; the batch may change between resumes
        if state is not None:
            self._restore(state)
        elif options.init_from is not None:
            self._init_from(options.init_from)
            torch.manual_seed(options.seed * 1_000_003 + 1 + ctx.rank)
        else:
            # Training randomness differs per rank; network init (above) does not.
            torch.manual_seed(options.seed * 1_000_003 + 1 + ctx.rank)
        self.ema_decay = options.ema_decay_per_step(self.global_batch)
        self.bad_steps = 0

    # -- one step -----------------------------------------------------------------------------------

    def _z(self) -> torch.Tensor:
        return torch.randn(self.options.batch, self.config.noise_dim, device=self.device)

    def _finite_everywhere(self, loss: torch.Tensor) -> bool:
        return not distributed.any_rank(not bool(torch.isfinite(loss)), self.ctx)

    def train_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One G update and one D update on ``real`` [B,3,R,R]; returns detached scalar metrics."""
        o = self.options
        metrics = {}

        if self.step >= o.d_warmup:
            self._generator_step(metrics)
        self._discriminator_step(real, metrics)
        if self.bad_steps > MAX_BAD_STEPS:
            raise FloatingPointError(f"losses were not finite for {self.bad_steps} updates in a row at step "
                                     f"{self.step + 1}; try a lower --lr or a larger --r1")
        return metrics

    def _generator_step(self, metrics: dict) -> None:
        o = self.options
        # Generator: D is frozen and called without DDP so it neither syncs nor accumulates grads.
        self.disc.requires_grad_(False)
        if o.carry > 0:  # single process (see __init__): the layout is needed twice, so no DDP wrapper here
            layout = self.g_step.layout(self._z())
            g_loss = g_nonsaturating_loss(self.disc(self.model.generator(layout)))
            carry, parts = carry_loss(self.model, layout, o.carry_shift)
            metrics.update(parts)
            g_loss = g_loss + o.carry * carry
        else:
            g_loss = g_nonsaturating_loss(self.disc(self.g_train(self._z())))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        if self._finite_everywhere(g_loss):
            self.opt_g.step()
            self.bad_steps = 0
        else:
            self.bad_steps += 1
        self.update_ema()
        metrics["g_loss"] = g_loss.detach()

    def _discriminator_step(self, real: torch.Tensor, metrics: dict) -> None:
        o = self.options
        # Discriminator: fakes from the current G (no graph into G), lazy R1 on the same update.
        self.disc.requires_grad_(True)
        with torch.no_grad():
            fake = self.g_step(self._z())
        do_r1 = o.r1 > 0 and (self.step + 1) % o.d_reg_every == 0
        real = real.detach().requires_grad_(do_r1)
        real_logits = self.d_train(real)
        fake_logits = self.d_train(fake)
        loss_real, loss_fake = d_logistic_loss(real_logits, fake_logits)
        d_loss = loss_real + loss_fake
        if do_r1:
            r1 = r1_penalty(real_logits, real)
            d_loss = d_loss + o.r1 * o.d_reg_every * r1
            metrics["r1"] = r1.detach()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        if self._finite_everywhere(d_loss):
            self.opt_d.step()
        else:
            self.bad_steps += 1
        metrics.update(d_loss=(loss_real + loss_fake).detach(), d_real=loss_real.detach(),
                       d_fake=loss_fake.detach(), score_real=real_logits.detach().mean(),
                       score_fake=fake_logits.detach().mean())

    def update_ema(self) -> None:
        update_ema(self.model_ema, self.model, self.ema_decay)

    # -- outputs ------------------------------------------------------------------------------------

    @torch.no_grad()
    def write_samples(self) -> str:
        """OUT/samples/step_XXXXXX.png (fixed-z EMA images, truncation 0, fixed noise, no jitter) and
        step_XXXXXX_blobs.png (their blob maps). Returns the image grid's path."""
        z = self.sample_z.to(self.device)
        layout = self.model_ema.layout_net(z)
        images = self.model_ema.render(layout, noise=self.options.seed)
        maps = self.model_ema.blob_map(layout)
        base = os.path.join(self.out, "samples", f"step_{self.step:06d}")
        save_png(base + "_blobs.png", image_grid(unit_to_uint8(maps)))
        return str(save_png(base + ".png", image_grid(to_uint8(images))))

    def save(self) -> None:
        """Write OUT/last.pt and OUT/model.safetensors (rank 0; every rank must call it)."""
        rng = {"torch": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}
        rngs = distributed.gather_objects(rng, self.ctx)
        if self.ctx.is_main:
            save_train_state(os.path.join(self.out, CHECKPOINT_NAME), {
                "step": self.step,
                "images": self.images,
                "config": self.config.to_dict(),
                "options": self.options.to_dict(),
                "world_size": self.ctx.world_size,
                "G": self.model.state_dict(),
                "G_ema": self.model_ema.state_dict(),
                "D": self.disc.state_dict(),
                "opt_G": self.opt_g.state_dict(),
                "opt_D": self.opt_d.state_dict(),
                "rng": rngs,
            })
            self.export_model()
        distributed.barrier(self.ctx)

    def export_model(self) -> str:
        """OUT/model.safetensors: the EMA generator plus its mean latent (for truncation)."""
        path = os.path.join(self.out, MODEL_NAME)
        mean_latent = self.model_ema.compute_mean_latent(n=self.options.mean_latent_samples, seed=0)
        meta = {"trained_steps": str(self.step), "trained_images": str(self.images),
                "train_preset": self.options.preset, "train_data": self.options.data,
                "train_jitter": ",".join(str(v) for v in self.options.jitter_values)}
        save_model(path, self.config, self.model_ema.state_dict(), mean_latent, meta)
        return path

    def _init_from(self, path: str) -> None:
        """Fine-tuning: G and G_ema start as the model in ``path`` (same configuration); D, the optimizers
        and the step count start fresh."""
        from blobgan_core.loading import load_model

        source = load_model(path, device=self.device)
        if source.config != self.config:
            diff = {k: (v, getattr(self.config, k)) for k, v in source.config.to_dict().items()
                    if getattr(self.config, k) != v}
            raise ValueError(f"--init-from {path}: its configuration differs ({{field: (file, run)}} = {diff}); "
                             "give the same model flags or preset")
        weights = source.state_dict()
        self.model.load_state_dict(weights)
        self.model_ema.load_state_dict(weights)

    def _restore(self, state: dict) -> None:
        saved = BlobGANConfig.from_dict(state["config"])
        if saved != self.config:
            diff = {k: (v, getattr(self.config, k)) for k, v in saved.to_dict().items()
                    if getattr(self.config, k) != v}
            raise ValueError(f"cannot resume: the checkpoint's model differs ({{field: (checkpoint, now)}} "
                             f"= {diff}); drop those flags or use a new --out")
        saved_d = (state["options"]["d_channel_base"], state["options"]["d_max_channels"])
        if saved_d != (self.options.d_channel_base, self.options.d_max_channels):
            raise ValueError(f"cannot resume: the checkpoint's discriminator has (channel_base, max_channels) "
                             f"= {saved_d}, now {(self.options.d_channel_base, self.options.d_max_channels)}")
        self.model.load_state_dict(state["G"])
        self.model_ema.load_state_dict(state["G_ema"])
        self.disc.load_state_dict(state["D"])
        # Own copies: the loader's tensors are views of the mapped file, which the next save replaces.
        self.opt_g.load_state_dict(_cloned(state["opt_G"]))
        self.opt_d.load_state_dict(_cloned(state["opt_D"]))
        # Options may change on resume (e.g. a larger --steps or a new --lr): apply the new lr/betas.
        for opt, fresh in zip((self.opt_g, self.opt_d), build_optimizers(self.model, self.disc, self.options)):
            for group, new in zip(opt.param_groups, fresh.param_groups):
                group.update(lr=new["lr"], betas=new["betas"], eps=new["eps"])
        self.step = int(state["step"])
        # Checkpoints older than the "images" entry ran at one batch size throughout.
        saved_batch = state["options"]["batch"] * state.get("world_size", 1)
        self.images = int(state.get("images", self.step * saved_batch))
        rngs = state.get("rng") or []
        if state.get("world_size") == self.ctx.world_size and self.ctx.rank < len(rngs):
            # clone(): the safe loader returns views into one file mapping, and set_rng_state reads the
            # storage from its start, ignoring a view's offset.
            torch.set_rng_state(rngs[self.ctx.rank]["torch"].clone())
            if self.device.type == "cuda" and rngs[self.ctx.rank].get("cuda") is not None:
                torch.cuda.set_rng_state(rngs[self.ctx.rank]["cuda"].clone(), self.device)
        else:
            torch.manual_seed(self.options.seed * 1_000_003 + 1 + self.ctx.rank + 7919 * self.step)

    # -- the loop -----------------------------------------------------------------------------------

    def _one_step(self, prefetch: Prefetcher, reporter: ProgressReporter, stop: StopRequest) -> bool:
        """Train one step, then log / sample / checkpoint as due. Returns True when asked to stop."""
        o, main = self.options, self.ctx.is_main
        real = prefetch.get(self.step).to(self.device, non_blocking=True)
        metrics = self.train_step(real)
        self.step += 1
        self.images += self.global_batch
        for name, value in metrics.items():
            reporter.window.add(name, value)
        last = self.step == o.steps
        if main and (self.step % o.log_every == 0 or last):
            reporter.report(self.step)
        stopped = distributed.any_rank(stop.requested, self.ctx)
        t0 = time.perf_counter()
        if main and ((o.sample_every and self.step % o.sample_every == 0) or last):
            self.write_samples()
        if (o.ckpt_every and self.step % o.ckpt_every == 0) or last or stopped:
            self.save()
        reporter.exclude(time.perf_counter() - t0)
        return stopped

    def run(self) -> TrainResult:
        o, ctx = self.options, self.ctx
        main = ctx.is_main
        reporter = ProgressReporter(o.steps, self.step, self.global_batch,
                                    os.path.join(self.out, LOG_NAME) if main else None, stream=self.stream)
        stopped = False
        if main:
            n_g = sum(p.numel() for p in self.model.parameters())
            n_d = sum(p.numel() for p in self.disc.parameters())
            note(f"training BlobGAN {self.config.resolution}px, G {n_g / 1e6:.2f}M + D {n_d / 1e6:.2f}M params, "
                 f"batch {o.batch} x {ctx.world_size} process(es) on {self.device}, "
                 f"steps {self.step} -> {o.steps}, out {self.out}", self.stream)
        prefetch = Prefetcher(self.batches.batch, workers=o.data_workers)
        try:
            with StopRequest(verbose=main) as stop:
                while self.step < o.steps:
                    stopped = self._one_step(prefetch, reporter, stop)
                    if stopped:
                        break
        finally:
            prefetch.close()
        if main:
            state = "stopped" if stopped else "finished"
            note(f"{state} at step {self.step}; model: {os.path.join(self.out, MODEL_NAME)}", self.stream)
        return TrainResult(step=self.step, out=self.out,
                           model_path=os.path.join(self.out, MODEL_NAME) if main else None,
                           stopped_early=stopped)


def train(config: BlobGANConfig, options: TrainOptions, *, dataset=None,
          resume: bool | str | dict = False, stream=None) -> TrainResult:
    """Train a BlobGAN; returns when ``options.steps`` steps are done or a stop signal arrived.

    dataset: an object with ``batch(indices) -> [N,3,R,R]`` in [-1,1] and ``len``; None opens
    ``options.data``. resume: False (refuse to overwrite OUT/last.pt), True (continue from
    OUT/last.pt when present, else start fresh), a checkpoint path, or an already loaded state.
    stream: where progress lines go (default stderr).
    """
    check_options(options, config)
    ctx = distributed.setup(options.device)
    try:
        if options.threads:
            torch.set_num_threads(options.threads)
        last = os.path.join(options.out, CHECKPOINT_NAME)
        state = None
        if isinstance(resume, dict):
            state = resume
        elif isinstance(resume, str):
            if not os.path.isfile(resume):
                raise FileNotFoundError(f"--resume {resume}: no such checkpoint")
            state = load_train_state(resume)
        elif resume and os.path.isfile(last):
            state = load_train_state(last)
        elif not resume and os.path.exists(last):
            raise FileExistsError(f"{last} exists: pass --resume to continue that run, or choose another --out")
        if state is not None and ctx.is_main:
            note(f"resuming from step {state['step']}", stream)
        if dataset is None:
            dataset = open_dataset(options.data, config.resolution, options.seed)
        if ctx.is_main:
            os.makedirs(os.path.join(options.out, "samples"), exist_ok=True)
            write_json(os.path.join(options.out, "run.json"),
                       {"config": config.to_dict(), "options": options.to_dict(), "world_size": ctx.world_size})
        distributed.barrier(ctx)
        trainer = Trainer(config, options, ctx, dataset, state, stream=stream)
        return trainer.run()
    finally:
        distributed.teardown(ctx)

"""``drag``: DragGAN-style point dragging of a BlobGAN scene.

    result = drag(scene, handles=[(40, 60)], targets=[(52, 60)])
    result.layout, result.handles, result.image, result.frames, result.history

1. Closed-form step (closed_form.py): each handle-owning blob is moved by the translation, similarity
   or affine map its handles ask for; an instant first edit.
2. DragGAN loop, from there: each iteration renders the scene once, tracks the handles *in the render*
   (where the original's patch around each handle now is, tracking.track_in_image), stops when every
   handle is within ``tolerance`` of its target, else takes one Adam step on the motion-supervision
   loss on decoder features (+ lambda x the mask term) over the geometry of the involved blobs only.
   The loop returns its best iterate, and the reported handles are found in the returned image: a
   distance the drag reports is a distance in what the user sees.
Deterministic: nothing random is drawn, and the feature sampling has a deterministic backward pass.

``track_on="features"`` with ``supervise_on="features"`` is the method before issue 13 (tracking on the
decoder features, which follow the splatted blob more than the rendered content).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..generator import BlobGAN, NoiseSpec
from ..grad_mode import outside_inference_mode
from ..layout import Layout
from .closed_form import closed_form_step
from .features import decoder_features, layer_names, resolve_layer
from .motion import fixed_region, mask_loss, motion_loss, template_motion_loss
from .params import BlobParams
from .points import check_inside, parse_drag_points, points_tensor, to_normalized, to_pixels
from .tracking import image_templates, reference_features, track_in_image, track_points

# Defaults; radii and the tolerance are in pixels at 128 px and scale with the resolution.
DEFAULT_STEPS = 40
DEFAULT_LR = 4e-3            # Adam step for blob centres, normalized units (0.5 px at 128 px)
SHAPE_LR_SCALE = 2.5         # angle (rad), log-aspect and size logit take lr x this
FEATURE_LR_SCALE = 0.5       # structure vectors phi (optional) take lr x this
DEFAULT_FEATURE_PULL = 10.0  # weight of mean (phi - phi0)^2
DEFAULT_LAMBDA = 20.0        # mask-term weight, DragGAN's lambda
R1_AT_128 = 3.0
R2_AT_128 = 6.0
R2_IMAGE_AT_128 = 8.0        # image tracking: the search reaches this far past the drag's length
TOLERANCE_AT_128 = 1.0
INVOLVE_MIN_ALPHA = 0.1      # blobs with at least this alpha at some handle are optimized
DEFAULT_TRACK_PRIOR = 0.3    # feature tracking: pull toward where the handle's blob carried it (0 = DragGAN)
TRACK_ON = ("image", "features")
SUPERVISE_ON = ("features", "image", "both")
DEFAULT_TRACK_ON = "image"   # measured against "features" in docs/drag-points.md
DEFAULT_SUPERVISE_ON = "features"  # measured against "image" and "both" in docs/drag-points.md
TEMPLATE_AT_128 = 8.0        # image tracking: template half-size (a 17x17 px patch at 128 px, 9x9 at 64)
IMAGE_MOTION_WEIGHT = 1.0    # weight of the render's motion term, with supervise_on="both"


def scaled_px(value_at_128: float, resolution: int, minimum: float) -> float:
    return max(minimum, value_at_128 * resolution / 128)


@dataclass
class DragResult:
    layout: Layout                        # the edited layout (batch 1), detached
    handles: torch.Tensor                 # [P,2] where each handle's content is in ``image``, image pixels
    targets: torch.Tensor                 # [P,2] image pixels
    image: torch.Tensor | None            # [1,3,R,R] render of ``layout`` (official scale), or None
    frames: torch.Tensor | None           # [F,3,R,R]: original, after the closed form, every k-th step, final
    # per tracking: step, distance, max_distance, handles (px) and, for steps taken, motion/mask/loss;
    # a last {"step", "returned_step", "distance"} entry when an earlier iterate was returned
    history: list[dict] = field(default_factory=list)
    closed_form_layout: Layout | None = None
    owners: list[int | None] = field(default_factory=list)   # per handle: owning blob (depth index) or None
    involved: list[int] = field(default_factory=list)        # blobs whose parameters were optimized
    fits: dict = field(default_factory=dict)                 # blob -> closed-form fit used
    layer: str = ""                       # decoder layer the features came from
    steps: int = 0                        # optimizer steps taken
    converged: bool = False               # every handle ended within ``tolerance`` of its target
    interrupted: bool = False             # should_stop asked to stop early
    seconds: float = 0.0

    @property
    def distances(self) -> torch.Tensor:
        """[P] final handle-to-target distances in pixels (in the returned image, with image tracking)."""
        return (self.handles - self.targets).norm(dim=-1)


def _prepare_mask(mask: torch.Tensor | None, size: int, device, dtype) -> torch.Tensor | None:
    """A mask [H,W], [1,H,W] or [1,1,H,W] in [0,1] (1 = may change) -> [size,size], or None."""
    if mask is None:
        return None
    m = mask.detach().to(device=device, dtype=dtype)
    while m.dim() > 2 and m.shape[0] == 1:
        m = m[0]
    if m.dim() != 2:
        raise ValueError(f"mask must be [H,W] or [1,H,W] (1 = region allowed to change); got {list(mask.shape)}")
    if tuple(m.shape) != (size, size):
        m = F.interpolate(m[None, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0]
    m = m.clamp(0, 1).clone()
    # as in the official renderer, only a mask with both regions constrains anything: an all-ones mask
    # allows every change, and an all-zeros one (e.g. LoadImage's mask of an image without alpha) would
    # forbid the drag itself
    inside = m > 0.5
    return None if bool(inside.all()) or not bool(inside.any()) else m


@outside_inference_mode
def drag(
    scene_or_model,
    handles,
    targets=None,
    *,
    layout: Layout | None = None,       # with a BlobGAN model as first argument
    noise: NoiseSpec = None,            # with a model; a Scene brings its own noise seed
    mask: torch.Tensor | None = None,   # [H,W] in [0,1], 1 = allowed to change; resized to the render
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    r1: float | None = None,            # motion patch radius, px (None/0: 3 px at 128 px, scaled)
    r2: float | None = None,            # tracking reach, px (None/0, features: a 6 px half-window at 128 px;
                                        # image: 8 px at 128 px past the drag's length; scaled)
    lam: float = DEFAULT_LAMBDA,
    fit: str = "auto",                  # closed-form step: auto, translate, similarity, affine, none
    keep_area: bool = True,
    optimize_features: bool = False,
    feature_pull: float = DEFAULT_FEATURE_PULL,
    layer: str | None = None,           # decoder layer (None: the model's measured drag_layer, else default_layer)
    tolerance: float | None = None,     # stop distance, px (None: 1 px at 128 px, scaled, >= 0.5)
    track_prior: float = DEFAULT_TRACK_PRIOR,  # feature tracking only; 0: plain nearest neighbour, as DragGAN
    track_on: str = DEFAULT_TRACK_ON,   # "image": the render (what the user sees); "features": the decoder layer
    supervise_on: str = DEFAULT_SUPERVISE_ON,  # motion supervision on "features", "image" (the render) or "both"
    template: float | None = None,      # image tracking template half-size, px (None: 8 px at 128, scaled)
    every: int = 0,                     # keep a frame every k iterations (0: only before/after)
    render: bool = True,                # render the final image
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DragResult:
    """Drag handle points to target points on a one-scene layout.

    ``handles`` / ``targets``: points in image pixels of the render, as JSON text, [{"x","y"}] dicts,
    [x, y] pairs or tensors [P,2] (see :func:`~blobgan_core.drag.points.parse_drag_points`).
    ``progress(done, total)`` is called after each iteration; ``should_stop()`` returning True ends the
    loop early with the current result (``interrupted=True``).
    """
    started = time.perf_counter()
    model, layout, noise = _resolve_subject(scene_or_model, layout, noise)
    res = model.resolution
    # blob geometry, features and points are handled in float32 whatever the model's dtype (Adam and the
    # covariance algebra need the precision); only the decoder runs in the model's dtype
    device, dtype, model_dtype = model.device, torch.float32, model.dtype
    hs, ts = parse_drag_points(handles, targets)
    check_inside(hs, res, "handles")
    check_inside(ts, res, "targets")
    steps = _check_int("steps", steps, 0)
    every = _check_int("every", every, 0)
    for name, v in (("lr", lr), ("lam", lam), ("feature_pull", feature_pull)):
        if not v >= 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    if track_on not in TRACK_ON:
        raise ValueError(f"track_on must be one of {', '.join(TRACK_ON)}; got {track_on!r}")
    if supervise_on not in SUPERVISE_ON:
        raise ValueError(f"supervise_on must be one of {', '.join(SUPERVISE_ON)}; got {supervise_on!r}")
    r1 = r1 or scaled_px(R1_AT_128, res, 1.0)
    r2_image = r2 or scaled_px(R2_IMAGE_AT_128, res, 2.0)
    r2 = r2 or scaled_px(R2_AT_128, res, 2.0)
    tolerance = tolerance or scaled_px(TOLERANCE_AT_128, res, 0.5)
    template_r = max(1, round(template or scaled_px(TEMPLATE_AT_128, res, 2.0)))
    layer = resolve_layer(model, layer)
    if layer not in layer_names(model.config):
        raise ValueError(f"layer must be one of {', '.join(layer_names(model.config))}; got {layer!r}")
    on_image = track_on == "image"
    image_loss = supervise_on in ("image", "both")
    feature_loss = supervise_on in ("features", "both")
    need_image = on_image or image_loss
    need_features = feature_loss or not on_image

    input_dtype = layout.xs.dtype
    # clones: tensors made under inference_mode (a ComfyUI scene's) cannot enter an autograd graph
    layout = layout.to(device, dtype).map(lambda t: t.detach().clone())
    noise_list = [t.clone() for t in model.resolve_noise(noise)]
    handles0 = points_tensor(hs, device, dtype)
    target_px = points_tensor(ts, device, dtype)
    mask_img = _prepare_mask(mask, res, device, dtype)

    def forward(lay: Layout) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(render [C,R,R] or None, features [C,h,w] or None) of a layout, as the settings need them."""
        lay = lay.to(dtype=model_dtype)
        if not need_image:
            return None, decoder_features(model, lay, noise_list, layer)[0].float()
        if not need_features:
            return model.generator(lay, noise=noise_list)[0].float(), None
        if not image_loss:
            # the render is only looked at (tracking): no graph through its later, larger layers
            with torch.no_grad():
                image = model.generator(lay, noise=noise_list)[0].float()
            return image, decoder_features(model, lay, noise_list, layer)[0].float()
        image, kept = model.generator(lay, noise=noise_list, keep=(layer,))
        return image[0].float(), kept[layer][0].float()

    def render_image(lay: Layout) -> torch.Tensor:
        with torch.no_grad():
            return model.generator(lay.to(dtype=model_dtype), noise=noise_list).float()

    with torch.no_grad():
        image0 = render_image(layout)[0]
        fmap0 = decoder_features(model, layout.to(dtype=model_dtype), noise_list, layer)[0].float() \
            if need_features else None
    frames = [image0[None]] if every else []
    refs = reference_features(fmap0, handles0, res) if not on_image else None
    templates = image_templates(image0, handles0, template_r) if on_image else None
    fixed = fixed_region(mask_img, fmap0.shape[-1]) if mask_img is not None and lam > 0 and feature_loss else None
    fixed_img = (1 - mask_img) if mask_img is not None and lam > 0 and image_loss else None

    # image tracking searches, for each handle, every place within reach of its drag (the drag's length
    # plus r2) of where it started: the content is found wherever it went, not where the blob suggests
    reach = (target_px - handles0).norm(dim=-1) + r2_image

    def track(image, fmap, predicted):
        """Handle positions [P,2] and, on the image, match scores [P] (None on features)."""
        if on_image:
            return track_in_image(image.detach(), templates, handles0, reach)
        return track_points(fmap.detach(), refs, predicted, r2, res, prior=track_prior), None

    cf = closed_form_step(layout, to_normalized(handles0, res), to_normalized(target_px, res), fit=fit,
                          keep_area=keep_area)
    alphas = cf.ownership.alphas
    involved = sorted({k for k in range(layout.n_blobs) if bool((alphas[:, k + 1] >= INVOLVE_MIN_ALPHA).any())}
                      | {k for k in cf.ownership.blob if k is not None})
    if every:
        frames.append(render_image(cf.layout))

    params = BlobParams(cf.layout, involved, optimize_features)
    groups = [{"params": [params.centre], "lr": lr},
              {"params": params.shape_params(), "lr": lr * SHAPE_LR_SCALE}]
    if optimize_features:
        groups.append({"params": [params.features], "lr": lr * FEATURE_LR_SCALE})
    optimizer = torch.optim.Adam(groups)

    # each handle is carried by the blob with the most alpha at it (if that blob is optimized): between
    # trackings it moves with that blob's ellipse frame, and tracking searches around that prediction
    carriers = _carriers(alphas, params.blobs)
    frame = params.frames()
    current = to_pixels(cf.handles, res)
    history: list[dict] = []
    converged = interrupted = False
    taken = 0
    best = None  # (mean distance, step, layout, handles): the loop returns its best iterate
    while True:
        lay = params.layout()
        need_grad = taken < steps and bool(involved)
        with torch.set_grad_enabled(need_grad):
            image, fmap = forward(lay)
        new_frame = params.frames()
        predicted = to_pixels(_carry(to_normalized(current, res), carriers, frame, new_frame), res)
        frame = new_frame
        current, scores = track(image, fmap, predicted)
        dist = (current - target_px).norm(dim=-1)
        record = {"step": taken, "distance": float(dist.mean()), "max_distance": float(dist.max()),
                  "handles": current.tolist()}
        if scores is not None:
            record["match"] = scores.tolist()
        history.append(record)
        if best is None or record["distance"] < best[0]:
            best = (record["distance"], taken, lay.detach(), current.clone())
        if bool((dist <= tolerance).all()):
            converged = True
            break
        if not need_grad:
            break
        if should_stop is not None and should_stop():
            interrupted = True
            break
        active = dist > tolerance
        loss = dist.new_zeros(())
        if feature_loss:
            m_loss = motion_loss(fmap, current, target_px, active, r1, res)
            loss = loss + m_loss
            record["motion"] = m_loss.item()
        if image_loss:
            i_loss = template_motion_loss(image, templates, current, target_px, active)
            loss = loss + IMAGE_MOTION_WEIGHT * i_loss
            record["motion_image"] = i_loss.item()
        if fixed is not None:
            k_loss = mask_loss(fmap, fmap0, fixed)
            loss = loss + lam * k_loss
            record["mask"] = k_loss.item()
        if fixed_img is not None:
            k_loss = mask_loss(image, image0, fixed_img)
            loss = loss + lam * k_loss
            record["mask_image"] = k_loss.item()
        if optimize_features and feature_pull > 0:
            loss = loss + feature_pull * params.feature_pull()
        record["loss"] = loss.item()
        # gradients for the blob parameters only: a model with trainable weights keeps its .grad untouched
        trainable = [p for group in groups for p in group["params"]]
        for p, g in zip(trainable, torch.autograd.grad(loss, trainable, allow_unused=True)):
            p.grad = g
        optimizer.step()
        params.project()
        taken += 1
        if every and taken % every == 0:
            frames.append(render_image(params.layout().detach()))
        if progress is not None:
            progress(taken, steps)
    if progress is not None and not interrupted:
        progress(steps, steps)

    # Motion supervision can wander where the features are not distinctive; like early stopping, keep the
    # iterate whose handles were nearest their targets (the last one when it is as good)
    final, current = params.layout().detach(), current
    if best is not None and best[0] < history[-1]["distance"]:
        _, best_step, final, current = best
        history.append({"step": taken, "returned_step": best_step, "distance": best[0]})
    image = render_image(final) if render or every or on_image else None
    if on_image:
        # the reported handles are found in the very image returned: a distance in what the user sees
        current, _ = track(image[0], None, current)
    if every:
        frames.append(image)
    return DragResult(
        layout=final.to(dtype=input_dtype), handles=current.detach(), targets=target_px,
        image=image if render else None,
        frames=torch.cat(frames) if frames else None, history=history, closed_form_layout=cf.layout,
        owners=cf.ownership.blob, involved=involved, fits=cf.fits, layer=layer, steps=taken, converged=converged,
        interrupted=interrupted, seconds=time.perf_counter() - started)


def _carriers(alphas: torch.Tensor, blobs: list[int]) -> list[int | None]:
    """Per handle: the position in ``blobs`` of the optimized blob with the most alpha at it, or None."""
    out = []
    for row in alphas:                                        # [K+1]
        k = int(row[1:].argmax())
        out.append(blobs.index(k) if k in blobs and float(row[k + 1]) >= INVOLVE_MIN_ALPHA else None)
    return out


def _carry(points: torch.Tensor, carriers, before, after) -> torch.Tensor:
    """Move points [P,2] (normalized) with their carrier blobs from frame ``before`` to ``after``."""
    (c0, m0), (c1, m1) = before, after
    out = points.clone()
    for i, b in enumerate(carriers):
        if b is not None:
            out[i] = c1[b] + m1[b] @ torch.linalg.solve(m0[b], points[i] - c0[b])
    return out


def _resolve_subject(subject, layout, noise) -> tuple[BlobGAN, Layout, NoiseSpec]:
    if isinstance(subject, BlobGAN):
        if layout is None:
            raise ValueError("drag(model, ...) needs layout=: the one-scene Layout to edit")
        model = subject
    elif hasattr(subject, "model") and hasattr(subject, "layout"):  # a blobgan_core.scene.Scene
        if layout is not None:
            raise ValueError("drag(scene, ...) takes the layout from the scene; do not pass layout=")
        model, layout = subject.model, subject.layout
        noise = subject.noise if noise is None else noise
    else:
        raise TypeError(f"drag needs a Scene or a BlobGAN model (with layout=); got {type(subject).__name__}")
    if layout.batch != 1:
        raise ValueError(f"drag edits one scene at a time; this layout has a batch of {layout.batch} "
                         "(use layout.select(i))")
    return model, layout, noise


def _check_int(name: str, v, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return v


__all__: Sequence[str] = ("DragResult", "drag")

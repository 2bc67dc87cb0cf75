"""Live preview for the blob editor widget: ``POST /blobgan/preview`` re-renders an edited scene.

The Edit Blob and Drag Points nodes call :func:`remember_scene` with their input scene when they run; the
widget then posts its edit list while the user drags, and gets the edited scene's image back without
queueing the workflow. Request body (JSON, ``Content-Type: application/json``)::

    {"node_id": "5", "edits": "[...]" | [...], "max_side": 256, "overlay": false, "format": "jpeg"}

- ``node_id`` (required): the node's id as ComfyUI's UNIQUE_ID gives it ("5", or "12:5" in a subgraph).
- ``edits`` (required): the edit list of docs/edit-list.md, as JSON text or as a list.
- ``max_side`` (optional int, 16..4096): shrink the image so its longer side is at most this (never
  enlarged); default: the render resolution.
- ``overlay`` (optional bool): blend the edited blob map over the image; default false.
- ``format`` (optional): "png" (default), "jpeg" or "webp".

Nothing else is accepted, and no field names a file. Answers (JSON): 200 ``{"image": data URL, "format",
"width", "height", "scene": SceneInfo of the node's input scene, "render_ms"}``; 400 ``{"error", "field"}``
for bad input; 404 when the node has not run since the server started; 409 when a newer request for the
same node overtook this one (the client had aborted it); 413 / 415 for an oversized or non-JSON body.

The render runs in a worker thread (the aiohttp event loop keeps serving the websocket), one at a time per
model. The model is used on whatever device it sits on: the route does not ask ComfyUI's model management
to load it, as that is not safe from a second thread while a prompt runs.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import json
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from blobgan_core.edits import EditError, parse_edits
from blobgan_core.images import to_comfy_image, to_uint8, unit_to_uint8
from blobgan_core.invert.tuning import base_model
from blobgan_core.scene import Scene
from blobgan_core.scene_info import scene_info

from . import comfy

log = logging.getLogger("blobgan")

ROUTE = "/blobgan/preview"
CACHE_SIZE = 16                     # scenes kept, one per node id, least recently used dropped first
MAX_BODY_BYTES = 1 << 20            # request body limit
MAX_EDITS_CHARS = 200_000           # edits given as JSON text
MAX_EDITS = 5_000                   # edits given as a list (or parsed from text)
MAX_DEPTH = 8                       # JSON nesting: body object > edits list > edit object, with room
MAX_SIDE_RANGE = (16, 4096)
FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
LOSSY_QUALITY = 90
OVERLAY_OPACITY = 0.45
FIELDS = ("node_id", "edits", "max_side", "overlay", "format")
# ComfyUI node ids are integers, joined by ":" inside subgraphs; nothing here can spell a path
NODE_ID_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,32}(?::[0-9A-Za-z_-]{1,32}){0,7}")
WORKERS = 2                         # renders are serialized per model; a second worker serves another model


class PreviewError(Exception):
    """A request the route answers with an error: HTTP ``status``, a message, the offending ``field``."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field

    def body(self) -> dict:
        return {"error": str(self), "field": self.field}


# -- scenes remembered from the last run of each node ---------------------------------------------------

@dataclass(frozen=True)
class _Entry:
    model: weakref.ref         # the model is not kept alive by the cache: ComfyUI decides when it goes
    scene: Scene               # batch item 0 only, with a placeholder model
    source: Scene | None       # the Edit Blob node's source_scene (item 0), which restyle edits read


class SceneCache:
    """A bounded, thread-safe LRU map node id -> the scene that node last received (batch item 0).

    Nodes write from ComfyUI's execution thread, the route reads from worker threads. The model is held
    through a weak reference, so a remembered scene never keeps an unloaded model in memory; such an
    entry then reads as missing."""

    def __init__(self, capacity: int = CACHE_SIZE):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, node_id: str, scene: Scene, source: Scene | None = None) -> None:
        entry = _Entry(weakref.ref(scene.model), _first_item(scene), None if source is None else _first_item(source))
        with self._lock:
            self._entries[node_id] = entry
            self._entries.move_to_end(node_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get(self, node_id: str) -> tuple[Scene, Scene | None] | None:
        """(scene, source scene or None), or None when nothing (or nothing alive) is remembered."""
        with self._lock:
            entry = self._entries.get(node_id)
            if entry is None:
                return None
            model = entry.model()
            if model is None:
                del self._entries[node_id]
                return None
            self._entries.move_to_end(node_id)
        s = entry.scene
        return dataclasses.replace(s, model=model.for_items(0)), entry.source

    def discard(self, node_id: str) -> None:
        with self._lock:
            self._entries.pop(node_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class _Detached:
    """Stands in for the model inside a cached Scene (Scene needs one; the real one is a weak ref)."""


_DETACHED = _Detached()
_scenes = SceneCache()


def _first_item(scene: Scene) -> Scene:
    # the model is kept as a weak reference beside it; restyle reads only layouts and ids of a source
    first = scene.select(0)
    return dataclasses.replace(first, model=_DETACHED, layout=first.layout.detach())


def remember_scene(node_id, scene: Scene, source: Scene | None = None) -> str | None:
    """Keep ``scene`` (batch item 0) as the scene node ``node_id`` edits, for the preview route, with the
    scene restyle edits take vectors from (Edit Blob's ``source_scene``), if any. Called by the Edit Blob
    and Drag Points nodes on every run; never raises (a failure only disables previews). Returns the key
    the scene is kept under, or None when it is not kept."""
    if node_id is None:
        return None
    try:
        key = check_node_id(str(node_id))
        _scenes.put(key, scene, source)
        return key
    except Exception as e:  # previews are a convenience: the node's own work must go on
        log.warning("BlobGAN: live preview unavailable for node %r: %s", node_id, e)
        return None


def editor_ui(node_id, scene: Scene, render: bool = True, source: Scene | None = None) -> dict:
    """What the Edit Blob and Drag Points nodes add to their ``ui`` for the editor widget, after
    remembering ``scene`` for the preview route: ``{"blobgan_scene": [SceneInfo], "blobgan_image":
    [temp file entry], "blobgan_node": [key]}`` for batch item 0 of the input scene (its blob
    geometry and its render; with ``render=False`` only the geometry, for a node that sends the input
    render itself). ``blobgan_node`` is the id the scene is remembered under (absent when it is not),
    which the widget must send back: inside a subgraph it is the execution path ("12:5"), not the node's
    own id ("5"). Outside ComfyUI there is no temp folder, so ``blobgan_image`` is empty. Never raises:
    without the widget's data the node still does its work (the failure is logged)."""
    key = remember_scene(node_id, scene, source)
    try:
        item = scene if scene.layout.batch == 1 else scene.select(0)
        ui = {"blobgan_scene": [scene_info(item)]}
        if key is not None:
            ui["blobgan_node"] = [key]
        if render:
            comfy.prepare(scene.model)
            with torch.inference_mode():
                image = to_comfy_image(item.render())  # [1,R,R,3]
            ui["blobgan_image"] = comfy.save_previews(image, prefix="blobgan_editor")
        return ui
    except Exception as e:
        log.warning("BlobGAN: no editor data for node %r: %s", node_id, e)
        return {}


def cached_scene(node_id: str) -> Scene | None:
    """The scene remembered for ``node_id`` (batch item 0), or None."""
    found = _scenes.get(node_id)
    return None if found is None else found[0]


def forget_scenes() -> None:
    """Drop every remembered scene (tests, or to free memory)."""
    _scenes.clear()


# -- request validation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreviewRequest:
    node_id: str
    edits: list            # list of edit dicts, shape-checked by blobgan_core.edits.parse_edits
    max_side: int | None
    overlay: bool
    format: str


def check_node_id(value) -> str:
    if not isinstance(value, str) or not NODE_ID_PATTERN.fullmatch(value):
        raise PreviewError(400, f"'node_id' must be a node id such as \"5\" or \"12:5\" (letters, digits, _ and "
                                f"-, parts joined by ':'); got {_describe(value)}", "node_id")
    return value


def parse_request(payload) -> PreviewRequest:
    """Check a decoded request body strictly; raises PreviewError(400) naming the field and what is allowed."""
    if not isinstance(payload, dict):
        raise PreviewError(400, f"the body must be a JSON object with fields {list(FIELDS)}; got "
                                f"{type(payload).__name__}")
    unknown = sorted(str(k) for k in payload if k not in FIELDS)
    if unknown:
        raise PreviewError(400, f"unknown field(s) {unknown}; allowed: {list(FIELDS)}", unknown[0])
    for name in ("node_id", "edits"):
        if name not in payload:
            raise PreviewError(400, f"missing field '{name}'", name)
    node_id = check_node_id(payload["node_id"])

    edits = payload["edits"]
    if isinstance(edits, str):
        if len(edits) > MAX_EDITS_CHARS:
            raise PreviewError(400, f"'edits' is {len(edits)} characters long; at most {MAX_EDITS_CHARS}", "edits")
    elif isinstance(edits, list):
        if len(edits) > MAX_EDITS:
            raise PreviewError(400, f"'edits' has {len(edits)} edits; at most {MAX_EDITS}", "edits")
    else:
        raise PreviewError(400, "'edits' must be the edit list as JSON text or as a list; got "
                                f"{type(edits).__name__}", "edits")
    try:
        parsed = parse_edits(edits)
    except EditError as e:
        raise PreviewError(400, str(e), "edits") from None
    if len(parsed) > MAX_EDITS:
        raise PreviewError(400, f"'edits' has {len(parsed)} edits; at most {MAX_EDITS}", "edits")
    as_dicts = [{"op": e.op, "blob": e.blob, **e.args} for e in parsed]

    max_side = payload.get("max_side")
    lo, hi = MAX_SIDE_RANGE
    if max_side is not None and not (type(max_side) is int and lo <= max_side <= hi):
        raise PreviewError(400, f"'max_side' must be an integer in {lo}..{hi} (pixels) or absent; got "
                                f"{_describe(max_side)}", "max_side")
    overlay = payload.get("overlay", False)
    if type(overlay) is not bool:
        raise PreviewError(400, f"'overlay' must be true or false; got {_describe(overlay)}", "overlay")
    fmt = payload.get("format", "png")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise PreviewError(400, f"'format' must be one of {list(FORMATS)}; got {_describe(fmt)}", "format")
    return PreviewRequest(node_id, as_dicts, max_side, overlay, fmt)


def decode_body(raw: bytes):
    """JSON bytes -> Python value; NaN and Infinity are refused (JSON has no such numbers)."""
    def refuse(name):
        raise ValueError(f"{name} is not a JSON number")

    too_deep = PreviewError(400, f"the body nests deeper than {MAX_DEPTH} levels; a preview request is an object "
                                 f"with fields {list(FIELDS)}")
    try:
        payload = json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except RecursionError:
        raise too_deep from None
    except (UnicodeDecodeError, ValueError) as e:
        raise PreviewError(400, f"the body is not valid JSON: {e}") from None
    if _depth(payload) > MAX_DEPTH:
        raise too_deep
    return payload


def _depth(value) -> int:
    """Nesting depth of decoded JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d + 1)
            if d + 1 <= MAX_DEPTH:  # deeper than that is refused anyway: stop looking
                stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


# -- rendering ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preview:
    image: bytes       # encoded image
    mime: str
    width: int         # px of the encoded image
    height: int
    scene: dict        # SceneInfo of the input scene (what the widget's edits are relative to)
    render_ms: float   # edit + render + encode, in this process


_model_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_model_locks_guard = threading.Lock()


def _lock_for(model) -> threading.Lock:
    with _model_locks_guard:
        lock = _model_locks.get(model)
        if lock is None:
            lock = _model_locks[model] = threading.Lock()
        return lock


def render_preview(scene: Scene, edits, *, source: Scene | None = None, max_side: int | None = None,
                   overlay: bool = False, fmt: str = "png") -> Preview:
    """Apply ``edits`` (ids of ``scene``; restyles read ``source``) to batch item 0 of ``scene`` and
    encode its render.

    Blocking (it runs the decoder): call it from a worker thread. Raises EditError for edits that do not
    fit the scene (e.g. an unknown blob id, or a restyle without a source scene).
    """
    start = time.perf_counter()
    item = scene if scene.layout.batch == 1 else scene.select(0)
    edited = item.edit(edits, source)
    with torch.inference_mode():
        pixels = to_uint8(edited.render())[0]                                    # [R,R,3] uint8
        if overlay:
            blob_map = unit_to_uint8(edited.blob_map(labels=False))[0]           # [R,R,3] uint8
            mixed = (1 - OVERLAY_OPACITY) * pixels + OVERLAY_OPACITY * blob_map.astype(np.float32)
            pixels = mixed.round().clip(0, 255).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if max_side is not None and max(image.size) > max_side:
        ratio = max_side / max(image.size)
        image = image.resize((max(1, round(image.width * ratio)), max(1, round(image.height * ratio))),
                             Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=1)  # speed over size: this is a transient preview
    else:
        image.save(buffer, format=fmt.upper(), quality=LOSSY_QUALITY)
    info = scene_info(item)
    return Preview(buffer.getvalue(), FORMATS[fmt], image.width, image.height, info,
                   (time.perf_counter() - start) * 1000)


# -- the handler ----------------------------------------------------------------------------------------

_latest_request: dict[str, int] = {}
_request_counter = [0]
_latest_guard = threading.Lock()


def _claim(node_id: str) -> int:
    with _latest_guard:
        _request_counter[0] += 1
        _latest_request[node_id] = _request_counter[0]
        return _request_counter[0]


def _overtaken(node_id: str, ticket: int) -> bool:
    with _latest_guard:
        return _latest_request.get(node_id) != ticket


def handle_preview(payload) -> tuple[int, dict]:
    """The whole route without aiohttp: a decoded JSON body -> (HTTP status, JSON body). Blocking.

    A request that a newer one for the same node overtook while it waited for the model answers 409
    without rendering: the widget aborts superseded requests, so their renders would be wasted.
    """
    try:
        request = parse_request(payload)
        ticket = _claim(request.node_id)
        found = _scenes.get(request.node_id)
        if found is None:
            raise PreviewError(404, f"no scene for node {request.node_id} yet: queue the workflow once to "
                                    "enable live preview", "node_id")
        scene, source = found
        # renders of one loaded model take turns (its views share its buffers and noise cache)
        with _lock_for(base_model(scene.model)):
            if _overtaken(request.node_id, ticket):
                raise PreviewError(409, "overtaken by a newer preview request for this node")
            try:
                preview = render_preview(scene, request.edits, source=source, max_side=request.max_side,
                                         overlay=request.overlay, fmt=request.format)
            except EditError as e:
                raise PreviewError(400, str(e), "edits") from None
    except PreviewError as e:
        return e.status, e.body()
    except Exception as e:  # a render failure: say so, keep the server healthy
        log.exception("BlobGAN: preview failed")
        return 500, {"error": f"preview failed: {type(e).__name__}: {e}", "field": None}
    data = base64.b64encode(preview.image).decode("ascii")
    return 200, {"image": f"data:{preview.mime};base64,{data}", "format": request.format,
                 "width": preview.width, "height": preview.height, "scene": preview.scene,
                 "render_ms": round(preview.render_ms, 2)}


_executor_holder: list[ThreadPoolExecutor] = []


def _executor() -> ThreadPoolExecutor:
    if not _executor_holder:
        _executor_holder.append(ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="blobgan-preview"))
    return _executor_holder[0]


async def preview_route(request):
    """aiohttp handler for ``POST /blobgan/preview``: size and type checks here, everything else
    (parsing, editing, rendering, encoding) in a worker thread."""
    from aiohttp import web

    if request.content_type != "application/json":
        return web.json_response({"error": "send the request as Content-Type: application/json", "field": None},
                                 status=415)
    too_large = web.json_response({"error": f"the body is larger than {MAX_BODY_BYTES} bytes", "field": None},
                                  status=413)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return too_large
    raw = await read_body(request.content, MAX_BODY_BYTES)
    if raw is None:
        return too_large
    loop = asyncio.get_running_loop()
    status, body = await loop.run_in_executor(_executor(), _decode_and_handle, raw)
    return web.json_response(body, status=status)


async def read_body(stream, limit: int) -> bytes | None:
    """The whole body however it arrives (in pieces, chunked), or None once it exceeds ``limit`` bytes.
    ``StreamReader.read(n)`` would return only what has arrived so far."""
    chunks, size = [], 0
    while chunk := await stream.readany():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_and_handle(raw: bytes) -> tuple[int, dict]:
    try:
        payload = decode_body(raw)
    except PreviewError as e:
        return e.status, e.body()
    return handle_preview(payload)


def add_route(routes) -> None:
    """Add the preview route to an aiohttp ``RouteTableDef`` (ComfyUI's ``PromptServer.instance.routes``)."""
    routes.post(ROUTE)(preview_route)


def make_app():
    """A standalone aiohttp application serving only the preview route (benchmarks, tests)."""
    from aiohttp import web

    routes = web.RouteTableDef()
    add_route(routes)
    app = web.Application()
    app.add_routes(routes)
    return app


_registered = [False]


def register_routes() -> bool:
    """Add ``POST /blobgan/preview`` to ComfyUI's server when there is one (call at pack import: ComfyUI
    copies the routes into its app after loading custom nodes). Returns whether the route is registered;
    failures are logged, never raised, so the nodes load without previews."""
    if _registered[0]:
        return True
    if comfy.comfy_module("folder_paths") is None:  # not inside ComfyUI
        return False
    try:
        server = comfy.comfy_module("server")
        instance = getattr(getattr(server, "PromptServer", None), "instance", None)
        if instance is None:
            log.info("BlobGAN: no ComfyUI server instance; live preview disabled")
            return False
        add_route(instance.routes)
    except Exception as e:
        log.warning("BlobGAN: could not add the live preview route %s: %s", ROUTE, e)
        return False
    _registered[0] = True
    return True


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

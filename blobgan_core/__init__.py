"""BlobGAN scene generation and editing in pure PyTorch; works with or without ComfyUI.

    import blobgan_core as bg
    model = bg.load_model()                        # the embedded default, or a .ckpt / .safetensors path
    layout = model.sample_layout(seed=7)           # Layout: xs, ys, sizes, covs, features, spatial_style
    layout, ids = bg.apply_edits(layout, [{"op": "move", "blob": 2, "dx": 0.2, "dy": 0}])
    image = model.render(layout)                   # [N,3,H,W], about [-1,1]
"""

from .config import BlobGANConfig
from .edits import EditError, apply_edits, parse_edits
from .generator import BlobGAN
from .images import from_comfy_image, to_comfy_image, to_uint8
from .layout import Layout
from .loading import DEFAULT_MODEL_PATH, load_model

__all__ = [
    "DEFAULT_MODEL_PATH",
    "BlobGAN",
    "BlobGANConfig",
    "EditError",
    "Layout",
    "apply_edits",
    "from_comfy_image",
    "load_model",
    "parse_edits",
    "to_comfy_image",
    "to_uint8",
]

"""BlobGAN scene editing for ComfyUI: the pack's entry point.

ComfyUI imports this file as a package under a name built from its path (custom_nodes/<dir>), so the
``nodes`` package is imported relatively. ``blobgan_core`` is imported by its own name everywhere (here,
in ``nodes``, in tests, in ``python -m blobgan_core``), so that there is exactly one copy of it and one
``Scene`` class in a process; for that, the pack's folder is put on ``sys.path`` below. It is appended,
not prepended, so ComfyUI's own top-level modules (``nodes``, ``utils``, ...) keep precedence over the
folders here.
"""

import logging
import os
import sys

_PACK_DIR = os.path.dirname(os.path.abspath(__file__))
if _PACK_DIR not in sys.path:
    sys.path.append(_PACK_DIR)

import blobgan_core  # noqa: E402

if os.path.dirname(os.path.dirname(os.path.abspath(blobgan_core.__file__))) != _PACK_DIR:
    logging.getLogger("blobgan").warning(
        "BlobGAN: using blobgan_core from %s, not the copy in this pack (%s); remove the other copy if "
        "the nodes misbehave", os.path.dirname(blobgan_core.__file__), _PACK_DIR)

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: E402
from .nodes.comfy import register_model_folder  # noqa: E402
from .nodes.preview import register_routes  # noqa: E402

WEB_DIRECTORY = "./web"

register_model_folder()
register_routes()  # POST /blobgan/preview, the editor widget's live preview

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]

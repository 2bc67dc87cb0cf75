"""ComfyUI node classes of the BlobGAN pack, split by topic, and the registry ComfyUI reads.

``comfy.py`` is the only module that touches ComfyUI; the others are thin wrappers over ``blobgan_core``.
Internal imports are relative, because ComfyUI imports the pack under a module name built from its path.
``runner.py`` hosts these nodes without ComfyUI (``python path/to/pack WORKFLOW.json``).
"""

from .animate_nodes import AnimateScenes
from .drag_nodes import DragPoints
from .invert_nodes import CompositeEdit, InvertImage
from .loaders import LoadBlobGAN
from .mask_nodes import BlobMasks
from .scene_nodes import EditBlob, RenderScene, SampleBlobs

# node id -> class and display name. Ids are what saved workflows store: never rename one; ship a new id
# and mark the old class DEPRECATED instead.
NODE_CONFIG = {
    "BlobGANLoader": {"class": LoadBlobGAN, "name": "Load BlobGAN"},
    "BlobGANSampleBlobs": {"class": SampleBlobs, "name": "Sample Blobs"},
    "BlobGANEditBlob": {"class": EditBlob, "name": "Edit Blob"},
    "BlobGANRenderScene": {"class": RenderScene, "name": "Render Scene"},
    "BlobGANBlobMasks": {"class": BlobMasks, "name": "Blob Masks"},
    "BlobGANDragPoints": {"class": DragPoints, "name": "Drag Points"},
    "BlobGANAnimateScenes": {"class": AnimateScenes, "name": "Animate Scenes"},
    "BlobGANInvertImage": {"class": InvertImage, "name": "Invert Image"},
    "BlobGANCompositeEdit": {"class": CompositeEdit, "name": "Composite Edit"},
}

NODE_CLASS_MAPPINGS = {node_id: entry["class"] for node_id, entry in NODE_CONFIG.items()}
NODE_DISPLAY_NAME_MAPPINGS = {node_id: entry["name"] for node_id, entry in NODE_CONFIG.items()}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_CONFIG", "NODE_DISPLAY_NAME_MAPPINGS", "AnimateScenes", "BlobMasks",
           "CompositeEdit", "DragPoints", "EditBlob", "InvertImage", "LoadBlobGAN", "RenderScene", "SampleBlobs"]

"""ComfyUI node classes of the BlobGAN pack, split by topic. ``comfy.py`` is the only module that
touches ComfyUI; the others are thin wrappers over ``blobgan_core``. Internal imports are relative,
because ComfyUI imports the pack under a module name built from its path."""

from .loaders import LoadBlobGAN
from .mask_nodes import BlobMasks
from .scene_nodes import EditBlob, RenderScene, SampleBlobs

__all__ = ["BlobMasks", "EditBlob", "LoadBlobGAN", "RenderScene", "SampleBlobs"]

"""The lab: what makes and measures BlobGAN models, never needed by a user's graph.

- :mod:`.data`: procedural bedrooms (with per-pixel labels) and folders of the user's own images.
- :mod:`.train`: the official training recipe, on CPU, one GPU or several (``torchrun``).
- :mod:`.metrics`: quality measures and the room segmenter that benchmarks and the model card use.

The lab imports ``blobgan_core``; ``blobgan_core`` and the node pack never import the lab.
Command line: ``python -m blobgan_lab {train,rooms} ...``.
"""

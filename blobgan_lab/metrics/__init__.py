"""Quality measures of a BlobGAN model (used by benchmarks/quality.py and the model card).

- :mod:`.swd`: sliced Wasserstein distance on Laplacian-pyramid patches (image realism, no network).
- :mod:`.locality`: how local a blob move is (share of the pixel change inside the blob's footprint).
- :mod:`.object_follow`: whether a segmented object goes with its blobs when they move, and whether
  the other objects stay.
- :mod:`.ownership`: which object kind each blob tends to carry.
- :mod:`.segmenter`: the labeller both of the last two rely on, a small network trained on the
  labelled procedural rooms only.
- :mod:`.patch_tracker`: where the content under a point of one image is in another (normalized
  cross-correlation of patches), the drag benchmarks' detector that shares no code with the drag.
- :mod:`.figures`: the model card's PNG figures.
"""

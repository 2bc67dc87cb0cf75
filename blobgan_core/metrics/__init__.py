"""Quality measures of a BlobGAN model (used by benchmarks/quality.py and the model card).

- :mod:`.swd`: sliced Wasserstein distance on Laplacian-pyramid patches (image realism, no network).
- :mod:`.locality`: how local a blob move is (share of the pixel change inside the blob's footprint).
- :mod:`.ownership`: which object kind each blob tends to carry, via a patch classifier built from the
  labelled procedural rooms.
"""

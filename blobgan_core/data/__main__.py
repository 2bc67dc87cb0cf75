"""``python -m blobgan_core.data OUT.png [--n 64] [--size 64] [--seed 0]``: a PNG grid of rooms."""

from .rooms import main

main()

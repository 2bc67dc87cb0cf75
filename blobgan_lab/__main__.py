"""Command line: ``python -m blobgan_lab {train,train-encoder,rooms} ...``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {
        "train": "train a BlobGAN (official recipe) and write a .safetensors for Load BlobGAN",
        "train-encoder": "train an image -> layout encoder for a model (Invert Image's first step)",
        "rooms": "write a PNG grid of procedural rooms",
    }
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: python -m blobgan_lab COMMAND [options]\n\ncommands:")
        for name, help_text in commands.items():
            print(f"  {name:14s} {help_text}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        if argv[0] == "train":
            from .train import train_cli

            return train_cli(argv[1:]) or 0
        if argv[0] == "train-encoder":
            from .train.encoder import train_encoder_cli

            return train_encoder_cli(argv[1:]) or 0
        from .data.rooms import main as rooms_main

        return rooms_main(argv[1:]) or 0
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

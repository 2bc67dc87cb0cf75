"""Errors that name the node and the input to fix; ComfyUI shows the message in its error dialog."""

from __future__ import annotations


def input_error(node: str, input_name: str, message: str) -> ValueError:
    """``ValueError("Edit Blob (edits): ...")``: raise it, or raise it ``from`` the original error."""
    return ValueError(f"{node} ({input_name}): {message}")

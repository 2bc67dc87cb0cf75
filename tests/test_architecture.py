"""The rooms of docs/architecture.md and what each may import: the core never imports the lab, the node
pack or ComfyUI; the node pack never imports the lab."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import ROOT

FORBIDDEN = {
    "blobgan_core": {"blobgan_lab", "nodes", "comfy", "folder_paths", "server"},
    "nodes": {"blobgan_lab"},
}


def imported_modules(path) -> set[str]:
    """Top-level names of the absolute imports in one file (relative imports stay in their package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_no_room_imports_what_it_may_not(room):
    files = sorted((ROOT / room).rglob("*.py"))
    assert files
    bad = {str(f.relative_to(ROOT)): sorted(imported_modules(f) & FORBIDDEN[room]) for f in files}
    assert {f: names for f, names in bad.items() if names} == {}


def test_importing_all_of_the_core_loads_neither_lab_nor_nodes():
    """The same, at run time: every module of the core imported in a fresh interpreter."""
    code = (
        "import importlib, pkgutil, sys, blobgan_core\n"
        "for m in pkgutil.walk_packages(blobgan_core.__path__, 'blobgan_core.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'blobgan_lab', 'nodes', 'folder_paths'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

"""The node reference (docs/nodes.md) and the help pages (web/docs/<node id>.md) are generated from the node
classes and docs/node-prose.md by scripts/make_node_docs.py: they must be up to date, one page per node,
named as the frontend asks for it, and quote the example workflows as they are."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from pack_fixtures import EXAMPLES, ROOT, pack

spec = importlib.util.spec_from_file_location("make_node_docs", ROOT / "scripts" / "make_node_docs.py")
make_node_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_node_docs)

HELP = ROOT / "web" / "docs"


@pytest.fixture
def generated(monkeypatch):
    monkeypatch.delenv("BLOBGAN_MODELS_DIR", raising=False)  # Load BlobGAN's list must not see test models
    return make_node_docs.render_all()


def test_generated_docs_are_up_to_date(generated):
    stale = [str(p.relative_to(ROOT)) for p in make_node_docs.stale(generated)]
    assert not stale, f"stale: {stale}; run: python scripts/make_node_docs.py"


def test_every_node_has_a_help_page_named_by_its_node_id():
    """The frontend fetches /extensions/<pack>/docs/<node id>.md (after <node id>/<locale>.md), where the
    node id is the NODE_CLASS_MAPPINGS key, not the Python class name."""
    p = pack()
    pages = sorted(f.name for f in HELP.iterdir())
    assert pages == sorted(f"{node_id}.md" for node_id in p.NODE_CLASS_MAPPINGS)
    assert (ROOT / p.WEB_DIRECTORY / "docs").resolve() == HELP.resolve()
    for node_id, name in p.NODE_DISPLAY_NAME_MAPPINGS.items():
        text = (HELP / f"{node_id}.md").read_text(encoding="utf-8")
        assert text.startswith(make_node_docs.GENERATED + f"\n\n# {name}\n"), node_id
        assert f"Node id `{node_id}`" in text


@pytest.mark.parametrize("node_id", sorted(pack().NODE_CLASS_MAPPINGS))
def test_help_page_has_every_input_output_an_example_and_pitfalls(node_id):
    cls = pack().NODE_CLASS_MAPPINGS[node_id]
    text = (HELP / f"{node_id}.md").read_text(encoding="utf-8")
    for section in ("## Inputs", "## Outputs", "## Example", "## Pitfalls"):
        assert f"\n{section}\n" in text, (node_id, section)
    assert cls.DESCRIPTION.strip() in text
    inputs = cls.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, (_, opts, *_) in inputs.get(section, {}).items():
            assert f"- **{name}** (" in text and opts["tooltip"].strip() in text, (node_id, name)
    for name, tooltip in zip(cls.RETURN_NAMES, cls.OUTPUT_TOOLTIPS):
        assert f"- **{name}** (" in text and tooltip.strip() in text, (node_id, name)
    # links to other docs pages would not resolve in the help panel (only web/docs is served)
    assert not re.findall(r"\]\((?![a-z]+:)[^)]*\)", text)


def test_the_reference_has_every_node_in_its_table_and_a_section():
    text = (ROOT / "docs" / "nodes.md").read_text(encoding="utf-8")
    for node_id, name in pack().NODE_DISPLAY_NAME_MAPPINGS.items():
        assert f"| `{node_id}` | {name} |" in text and f"\n## {name}\n\nNode id `{node_id}`.\n" in text
    for example in sorted(p.name for p in EXAMPLES.glob("*.json")):
        assert f"| `{example}` |" in text, example


def test_the_drag_example_is_quoted_from_its_workflow():
    """docs/nodes.md once said 6 px where the workflow drags 4 px: the number now comes from the file."""
    workflow = json.loads((EXAMPLES / "blobgan_drag_points.json").read_text())
    handles, targets = next(n["widgets_values"][:2] for n in workflow["nodes"] if n["type"] == "BlobGANDragPoints")
    (h,), (t,) = json.loads(handles), json.loads(targets)
    assert t["y"] == h["y"] and t["x"] > h["x"]  # the sentence below is written for a drag to the right
    phrase = f"{t['x'] - h['x']:g} px to the right"
    for path in (ROOT / "docs" / "nodes.md", HELP / "BlobGANDragPoints.md"):
        assert phrase in path.read_text(encoding="utf-8"), path
    assert "6 px to the right" not in (ROOT / "docs" / "nodes.md").read_text(encoding="utf-8")


def test_prose_for_missing_nodes_or_inputs_and_unknown_facts_are_errors():
    top, nodes = make_node_docs.read_prose(
        "<!-- header -->\n<!-- intro -->\nHello\n<!-- node: BlobGANLoader -->\n<!-- about -->\nA\n"
        "<!-- input: model_name -->\nB\n<!-- input: colour -->\nC\n<!-- node: BlobGANNope -->\n<!-- about -->\nD\n")
    assert top == {"intro": "Hello"} and nodes["BlobGANLoader"] == {"about": "A", "input: model_name": "B",
                                                                    "input: colour": "C"}
    config = make_node_docs.node_config()
    assert make_node_docs.unknown_prose(nodes, config) == [
        "node BlobGANNope is not in NODE_CONFIG",
        "node BlobGANLoader: a note on input 'colour', which the node does not have"]
    with pytest.raises(ValueError, match=r"unknown fact \{\{drag_px\}\}"):
        make_node_docs.fill("drags {{drag_px}}", make_node_docs.facts(), "here")
    with pytest.raises(ValueError, match="outside a node's section"):
        make_node_docs.read_prose("<!-- intro -->\nx\n<!-- pitfalls -->\n- y\n")


def test_check_mode_names_stale_files(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BLOBGAN_MODELS_DIR", raising=False)
    page = tmp_path / "BlobGANLoader.md"
    monkeypatch.setattr(make_node_docs, "HELP_DIR", tmp_path)
    page.write_text("old\n")
    (tmp_path / "BlobGANGone.md").write_text("a node that no longer exists\n")
    assert make_node_docs.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "BlobGANLoader.md" in out and "BlobGANGone.md" in out and "BlobGANAnimateScenes.md" in out
    assert page.read_text() == "old\n"  # --check writes nothing

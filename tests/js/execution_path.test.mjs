// The execution path the widget sends as node_id: the server caches a node's scene under it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { executionPath } from "../../web/js/execution_path.js";

/** A root graph holding subgraph definitions, shaped as the ComfyUI frontend shapes them. */
function makeRoot() {
    const root = { nodes: [], subgraphs: new Map() };
    root.rootGraph = root;
    return root;
}
function makeSubgraph(root, id) {
    const g = { id, nodes: [], rootGraph: root };
    root.subgraphs.set(id, g);
    return g;
}
function add(graph, id, subgraph) {
    const node = { id, graph, ...(subgraph ? { subgraph } : {}) };
    graph.nodes.push(node);
    return node;
}

describe("executionPath", () => {
    test("a node of the root graph runs under its own id", () => {
        const root = makeRoot();
        assert.equal(executionPath(add(root, 5)), "5");
    });

    test("inside subgraphs: the holders' ids, outermost first, then its own", () => {
        const root = makeRoot();
        const outer = makeSubgraph(root, "a");
        const inner = makeSubgraph(root, "b");
        add(root, 9, outer);
        add(outer, 3, inner);
        const node = add(inner, 5);
        assert.equal(executionPath(node), "9:3:5");
        assert.equal(executionPath(add(outer, 7)), "9:7");
    });

    test("no unique path: a subgraph placed twice, or one nobody holds", () => {
        const root = makeRoot();
        const shared = makeSubgraph(root, "s");
        add(root, 9, shared);
        add(root, 10, shared);
        assert.equal(executionPath(add(shared, 5)), null);
        const orphan = makeSubgraph(root, "o");
        assert.equal(executionPath(add(orphan, 1)), null);
    });

    test("old frontends (no rootGraph) and nodes without an id yet", () => {
        const graph = { nodes: [] };
        assert.equal(executionPath(add(graph, 12)), "12");
        assert.equal(executionPath({ id: 4 }), null);         // in no graph
        assert.equal(executionPath({ id: -1, graph }), null);
        assert.equal(executionPath({ graph }), null);
        assert.equal(executionPath(null), null);
    });

    test("a node no longer in its graph (replaced by a subgraph's copy) runs under no id", () => {
        const root = makeRoot();
        const node = add(root, 5);
        root.nodes.length = 0;
        assert.equal(executionPath(node), null);
        const legacy = { _nodes: [] };               // older LiteGraph keeps the list in _nodes
        assert.equal(executionPath({ id: 3, graph: legacy }), null);
        const kept = add({ nodes: [] }, 6);
        assert.equal(executionPath(kept), "6");
    });

    test("a cycle of subgraphs ends with null instead of looping", () => {
        const root = makeRoot();
        const a = makeSubgraph(root, "a");
        const b = makeSubgraph(root, "b");
        add(a, 1, b);
        add(b, 2, a);
        assert.equal(executionPath(add(a, 3)), null);
    });
});

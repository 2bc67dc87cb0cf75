// The id ComfyUI runs a node under, which is also the key of the server's preview cache: the node's
// own id in the root graph; inside subgraphs, the ids of the subgraph nodes that hold it (outermost
// first) and then its own, joined by ":" ("9:5"). Pure: reads only node.id, node.graph,
// graph.rootGraph, graph.subgraphs, graph.nodes and n.subgraph, so node --test covers it.

const MAX_DEPTH = 64;

/**
 * @param {{id?: number | string, graph?: object}} node a LiteGraph node
 * @returns {string | null} its execution path; null when it has no id yet or is in no graph, or
 *   when the path is not unique (a subgraph placed more than once) or not found (a graph not
 *   reachable from the root)
 */
export function executionPath(node) {
    if (node?.id === undefined || node.id === null || node.id === -1) return null;
    let graph = node.graph;
    // A node in no graph, or taken out of its graph, runs under no id at all (converting nodes into a
    // subgraph makes such nodes, and their editors live on).
    const members = graph?.nodes ?? graph?._nodes;
    if (!graph || (members && !members.includes(node))) return null;
    const root = graph.rootGraph ?? graph;
    // Frontends without subgraphs have no rootGraph: every node is in the root graph.
    if (graph === root) return String(node.id);
    const graphs = [root, ...(root.subgraphs?.values?.() ?? [])];
    const path = [String(node.id)];
    while (graph !== root) {
        if (path.length > MAX_DEPTH) return null;
        const holders = graphs.flatMap((g) => (g.nodes ?? []).filter((n) => n.subgraph === graph));
        if (holders.length !== 1) return null;
        path.unshift(String(holders[0].id));
        graph = holders[0].graph;
        if (!graph) return null;
    }
    return path.join(":");
}

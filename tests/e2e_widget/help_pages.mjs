// Every node's help page opens in real ComfyUI with its real frontend, in headless Chromium: for each node
// of the BlobGAN category, open its help the way this frontend offers it (newer frontends: select the
// node and press "Node Info" in its selection toolbox; older ones: the help button of its entry in the
// node library), and check that the frontend fetched the page from the pack (web/docs/<node id>.md) and
// shows its heading and first words (not the generic fallback built from the node's description).
//
// usage: node tests/e2e_widget/help_pages.mjs --port 8188 --out /tmp/help_shots [--label classic]
//   ComfyUI must be running with this pack, the Vue-nodes setting set beforehand (see run.mjs).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { openSession } from "./lib.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const s = await openSession("help");
const { page, check, results } = s;
const fetched = [];
page.on("response", (r) => {
    if (/\/docs\/BlobGAN\w+(\/[\w-]+)?\.md/.test(r.url())) fetched.push(`${r.status()} ${new URL(r.url()).pathname}`);
});

/** The page's title line and the first words of its first paragraph, as the panel should show them. */
function expected(nodeId) {
    const text = fs.readFileSync(path.join(ROOT, "web/docs", `${nodeId}.md`), "utf8");
    const lines = text.split("\n").filter((l) => l.trim() && !l.startsWith("<!--"));
    const title = lines.find((l) => l.startsWith("# ")).slice(2).trim();
    const first = lines.find((l) => !l.startsWith("#")).replace(/[*`]/g, "").split(/\s+/).slice(0, 6).join(" ");
    return { title, first };
}

try {
    const nodes = await page.evaluate(async () => {
        const defs = await window.comfyAPI.api.api.getNodeDefs();
        return Object.values(defs).filter((d) => d.category === "BlobGAN").map((d) => ({ id: d.name, title: d.display_name }));
    });
    check("the library lists the pack's nodes", nodes.length >= 7, nodes.map((n) => n.id).join(", "));
    const toggleLibrary = () => page.evaluate(
        () => window.comfyAPI.app.app.extensionManager.command.execute("Workspace.ToggleSidebarTab.node-library"));
    /** The node library with the BlobGAN folder open (the help panel takes the library's place). */
    const openLibrary = async () => {
        const search = page.locator(".side-bar-panel input, .sidebar-content-container input").first();
        if (!(await search.isVisible().catch(() => false))) await toggleLibrary();
        await page.waitForTimeout(600);
        if (await page.locator(`li[aria-label="${nodes[0].title}"]`).count() === 0) {
            await page.getByText("BlobGAN", { exact: true }).first().click();
            await page.waitForTimeout(600);
        }
    };
    /** Newer frontends: a node on the canvas, selected, and its toolbox's "Node Info"; false if absent. */
    const openFromNode = async (node) => {
        await page.evaluate((type) => {
            const app = window.comfyAPI.app.app;
            app.graph.clear();
            const n = window.LiteGraph.createNode(type);
            n.pos = [500, 300];
            app.graph.add(n);
            app.canvas.selectNode(n);
            app.canvas.setDirty(true, true);
        }, node.id);
        await page.waitForTimeout(800);
        const info = page.locator('button[aria-label="Node Info"]').first();
        if (!(await info.isVisible().catch(() => false))) return false;
        await info.click();
        return true;
    };
    /** Older frontends: the help button of the node's entry in the node library. */
    const openFromLibrary = async (node) => {
        await openLibrary();
        const row = page.locator(`li[aria-label="${node.title}"]`).first();
        await row.hover();
        await page.waitForTimeout(300);
        // the entry's actions: bookmark, then help
        await row.locator(".node-actions button:not(.bookmark-button)").first().click();
    };
    for (const node of nodes) {
        const want = expected(node.id);
        const before = fetched.length;
        const fromNode = await openFromNode(node);
        if (!fromNode) await openFromLibrary(node);
        results.notes.push(`${node.id}: help opened from ${fromNode ? "the node's Node Info button" : "the node library"}`);
        const shown = await page.waitForFunction(
            ([title, first]) => {
                const text = document.body.innerText.replace(/\s+/g, " ");
                return text.includes(title) && text.includes(first);
            }, [want.title, want.first], { timeout: 15000 }).then(() => true, () => false);
        const got = fetched.slice(before);
        check(`${node.id}: help page fetched from the pack`, got.some((f) => f.startsWith("200 ") && f.endsWith(`/docs/${node.id}.md`)),
            got.join(", "));
        check(`${node.id}: the panel shows "${want.title}" and its first words`, shown, want.first);
        await s.shoot(`help_${node.id}`);
        if (fromNode) {
            await page.locator('button[aria-label="Node Info"]').first().click().catch(() => {});  // close it
        } else {
            // back from the help panel to the library (its arrow button)
            await page.locator("button:has(.pi-arrow-left), button:has([class*=arrow-left])").first().click();
        }
        await page.waitForTimeout(300);
    }
    results.fetched = fetched;
} catch (err) {
    await s.fail(err);
}
await s.finish();

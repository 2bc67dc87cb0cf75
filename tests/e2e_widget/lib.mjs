// Shared by the real-ComfyUI widget scripts (run.mjs: Edit Blob, points.mjs: Drag Points): argument
// parsing, Chromium, the ComfyUI page, workflow loading, queueing, output hashes, screenshots, checks.
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Thrown to end the checks early when there is nothing more to check (not a failure). */
export class Finished extends Error {}

// Frontend 1.27.10 throws the first at every page load and logs the second whenever a subgraph is opened
// (one holding only a SaveImage node too), with or without this pack (see the env notes).
const KNOWN_FRONTEND_NOISE = [
    /^pageerror: TypeError: Cannot read properties of undefined \(reading 'id'\)$/,
    /^Attempted to cleanup event listeners for graph that was never set up$/,
];

/**
 * Start a session: parse --port/--out/--label/--model, launch Chromium, open ComfyUI.
 * @param {string} defaultLabel
 */
export async function openSession(defaultLabel) {
    const args = {};
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, "")] = argv[i + 1];
    const port = args.port ?? "8188";
    const out = path.resolve(args.out ?? `/tmp/blobgan_widget_e2e_${defaultLabel}`);
    const label = args.label ?? defaultLabel;
    const base = `http://127.0.0.1:${port}`;
    fs.mkdirSync(out, { recursive: true });

    // playwright-core comes from tests/browser/node_modules (cd tests/browser && npm install)
    const requirePw = createRequire(path.join(ROOT, "tests/browser/package.json"));
    const playwright = await import(pathToFileURL(requirePw.resolve("playwright-core")).href);
    const chromium = playwright.chromium ?? playwright.default.chromium;
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"],
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });

    const results = { label, port, checks: {}, notes: [], consoleErrors: [], knownFrontendNoise: [] };
    const noteError = (text) => {
        if (KNOWN_FRONTEND_NOISE.some((re) => re.test(text))) results.knownFrontendNoise.push(text);
        else results.consoleErrors.push(text);
    };
    page.on("console", (m) => {
        if (m.type() === "error" && !/ERR_NAME_NOT_RESOLVED|404|Failed to load resource/.test(m.text())) {
            noteError(m.text().slice(0, 300));
        }
    });
    page.on("pageerror", (e) => noteError(`pageerror: ${String(e).slice(0, 300)}`));
    const previewCalls = [];
    page.on("response", (r) => {
        if (!r.url().includes("/blobgan/preview")) return;
        let nodeId = null;
        try {
            nodeId = JSON.parse(r.request().postData() ?? "{}").node_id ?? null;
        } catch {
            // not JSON: the route answers 400 and the status says so
        }
        previewCalls.push({ status: r.status(), at: Date.now(), nodeId });
    });

    const s = {
        args, page, results, previewCalls, out, label,

        check(name, ok, detail = "") {
            results.checks[name] = { ok: Boolean(ok), detail };
            console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
        },

        async openApp() {
            if (!page.url().startsWith(base)) await page.goto(`${base}/`, { waitUntil: "networkidle", timeout: 90000 });
            await page.waitForFunction(() => window.comfyAPI?.app?.app?.graph, null, { timeout: 60000 });
            await page.waitForTimeout(1000);
            results.frontend = await page.evaluate(() => window.__COMFYUI_FRONTEND_VERSION__ ?? null);
            results.vueNodes = await page.evaluate(
                () => window.comfyAPI.app.app.extensionManager?.setting?.get?.("Comfy.VueNodes.Enabled") ?? null);
        },

        /** Load a UI workflow; --model replaces the Load BlobGAN model_name unless keepModel. */
        async loadWorkflow(workflow, { keepModel = false } = {}) {
            await page.evaluate(async ([wf, model]) => {
                const app = window.comfyAPI.app.app;
                await app.loadGraphData(wf);
                if (model) {
                    for (const loader of app.graph.nodes.filter((n) => n.type === "BlobGANLoader")) {
                        const w = loader.widgets?.find((x) => x.name === "model_name");
                        if (w) w.value = model;
                    }
                }
            }, [workflow, keepModel ? null : args.model ?? null]);
            await page.waitForTimeout(800);
        },

        readWorkflow(relative) {
            return JSON.parse(fs.readFileSync(path.resolve(ROOT, relative), "utf8"));
        },

        nodeIdOfType(type) {
            return page.evaluate((t) => window.comfyAPI.app.app.graph.nodes.find((n) => n.type === t)?.id, type);
        },

        widgetValue(nodeId, name) {
            return page.evaluate(([id, n]) => window.comfyAPI.app.app.graph.getNodeById(id).widgets.find((w) => w.name === n)?.value,
                [nodeId, name]);
        },

        /** The saved workflow's widgets_values of a node, and its prompt inputs. */
        async saved(nodeId) {
            return page.evaluate(async (id) => {
                const app = window.comfyAPI.app.app;
                const wf = app.graph.serialize();
                const prompt = await app.graphToPrompt();
                return { widgetsValues: wf.nodes.find((n) => String(n.id) === String(id))?.widgets_values,
                    inputs: prompt.output[String(id)]?.inputs, workflow: wf };
            }, nodeId);
        },

        /** Put a node at the left of the screen, below the toolbars, at zoom 1. */
        async focusNode(nodeId) {
            await page.evaluate((id) => {
                const app = window.comfyAPI.app.app;
                const node = app.graph.getNodeById(id);
                const canvas = app.canvas;
                canvas.ds.scale = 1;
                canvas.ds.offset[0] = 420 - node.pos[0];
                canvas.ds.offset[1] = 160 - node.pos[1];
                canvas.setDirty(true, true);
            }, nodeId);
            await page.waitForTimeout(700);
        },

        /** Queue the graph and wait for the end of the run; images of `executed` events are collected. */
        queueAndWait() {
            return page.evaluate(async () => {
                const app = window.comfyAPI.app.app, api = window.comfyAPI.api.api;
                const images = [];
                const onExecuted = (e) => {
                    for (const im of e.detail?.output?.images ?? []) images.push({ node: e.detail.node, ...im });
                };
                api.addEventListener("executed", onExecuted);
                const done = new Promise((resolve) => {
                    const on = (status) => (e) => resolve({ status, detail: JSON.stringify(e.detail).slice(0, 600) });
                    api.addEventListener("execution_success", on("success"), { once: true });
                    api.addEventListener("execution_error", on("error"), { once: true });
                    setTimeout(() => resolve({ status: "timeout" }), 300000);
                });
                try {
                    await app.queuePrompt(0, 1);
                } catch (e) {
                    return { status: "queue-failed", detail: String(e) };
                }
                const r = await done;
                api.removeEventListener("executed", onExecuted);
                return { ...r, images };
            });
        },

        /** sha256 of the last output image (SaveImage) of a run. */
        async outputImageHash(run) {
            const saved = run.images?.filter((im) => im.type === "output") ?? [];
            if (!saved.length) return null;
            const im = saved.at(-1);
            const query = new URLSearchParams({ filename: im.filename, subfolder: im.subfolder ?? "", type: im.type });
            const res = await fetch(`${base}/view?${query}`);
            if (!res.ok) return null;
            return createHash("sha256").update(Buffer.from(await res.arrayBuffer())).digest("hex");
        },

        /** Close modal dialogs (e.g. the error dialog of a failed run on older frontends). */
        async closeDialogs() {
            const close = page.locator(".p-dialog .p-dialog-close-button, .p-dialog .p-dialog-header-close");
            for (let i = 0; i < 3 && (await close.count()) > 0; i++) {
                await close.first().click().catch(() => {});
                await page.waitForTimeout(300);
            }
        },

        shoot(name) {
            return page.screenshot({ path: path.join(out, `${label}_${name}.png`) });
        },

        /** Record an unexpected error as a failed check (Finished ends early without failing). */
        async fail(err) {
            if (err instanceof Finished) return;
            s.check("script ran to the end", false, String(err?.stack ?? err).slice(0, 800));
            await s.shoot("error").catch(() => {});
        },

        /** Write results.json, print the verdict, close the browser and exit. */
        async finish() {
            s.check("no console errors", results.consoleErrors.length === 0, results.consoleErrors.slice(0, 3).join(" | "));
            const names = Object.keys(results.checks);
            const failed = names.filter((k) => !results.checks[k].ok);
            results.pass = failed.length === 0;
            fs.writeFileSync(path.join(out, `${label}_results.json`), JSON.stringify(results, null, 2));
            console.log(`${results.pass ? "PASS" : "FAIL"} (${label}): ${names.length - failed.length}/${names.length} checks; `
                + `screenshots in ${out}`);
            await browser.close();
            process.exit(results.pass ? 0 : 1);
        },
    };
    await s.openApp();
    console.log(`frontend ${results.frontend ?? "?"}, Vue nodes ${results.vueNodes}`);
    return s;
}

/** Whether the editor's DOM widget is mounted and visible (old Vue renderers mount none). */
export async function editorMounted(page, nodeId) {
    return page.evaluate((id) => {
        const editor = window.comfyAPI.app.app.graph.getNodeById(id).blobganEditor;
        const r = editor.canvas.element.getBoundingClientRect();
        return { connected: editor.canvas.element.isConnected, width: r.width, height: r.height };
    }, nodeId);
}

/**
 * After a settle, record whether this renderer mounted the editor's DOM widget; true (with a note in
 * `results`) when it did not, so the caller checks what it still can and ends with `Finished`.
 */
export async function reportUnmounted(page, nodeId, results) {
    await page.waitForTimeout(1000);
    const mount = await editorMounted(page, nodeId);
    results.mount = mount;
    if (mount.connected && mount.width >= 50) return false;
    results.notes.push(`this frontend did not mount the editor's DOM widget (${JSON.stringify(mount)})`);
    console.log(`note: the editor is not mounted by this renderer: ${JSON.stringify(mount)}`);
    return true;
}

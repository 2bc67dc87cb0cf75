// The live preview client of the editor canvas: posts an edit list to the preview route (POST
// /blobgan/preview, through the host's fetchPreview) and hands back the decoded image. While a gesture
// runs it is throttled, never faster than the last round trip took, so that slow renders still land
// mid-drag; the newest request wins: it aborts the one in flight, and an answer older than the image
// on show is dropped. It touches the DOM only to decode images.

/**
 * @typedef {Object} PreviewClientOptions
 * @property {((body: object, signal: AbortSignal) => Promise<Response>) | null} fetchPreview null: no
 *   live preview
 * @property {() => (string | null)} nodeId the node id the server keeps the scene under
 * @property {() => object[]} edits the edit list to preview (as the widget stores it)
 * @property {() => (number | undefined)} maxSide the largest image side worth rendering (image px),
 *   when the widget shows the image smaller than the scene's size
 * @property {string} format "png" | "jpeg" | "webp"
 * @property {number} intervalMs least time between requests while dragging
 * @property {(scene: object) => void} onScene the route's input scene; may throw on a bad one
 * @property {(image: HTMLImageElement, key: string) => void} onImage a newer image; key: the JSON of
 *   the edits it shows
 * @property {(message: string, level: "warn" | "error") => void} onProblem
 * @property {() => void} onMissing the server holds no scene for the node (the workflow never ran)
 */

export class PreviewClient {
    /**
     * @param {PreviewClientOptions} options
     */
    constructor(options) {
        this.options = options;
        this.timer = null;
        this.inflight = null;           // AbortController of the request in flight
        this.seq = 0;                   // sequence number of the latest request sent
        this.shownSeq = 0;              // ... and of the latest one drawn
        this.lastSent = -Infinity;
        this.roundTripMs = 0;           // last measured drag-to-pixels time (request to decoded image)
        this.stats = { sent: 0, aborted: 0, received: 0, failed: 0 };
        this.times = [];                // the last round trips (ms), for measurements
        this.available = true;          // false after a 404, until a run or a refresh
        this.closed = false;
    }

    /**
     * Ask for the current edits' image: at once (final: after a gesture, undo, load), or throttled
     * while dragging.
     * @param {boolean} final
     */
    schedule(final) {
        if (!this.options.fetchPreview || this.closed) return;
        if (!this.available && !final) return;
        if (final) {
            clearTimeout(this.timer);
            this.timer = null;
            this.send();
            return;
        }
        if (this.timer) return; // the pending timer sends the newest edits when it fires
        const interval = Math.max(this.options.intervalMs, this.roundTripMs);
        const wait = Math.max(0, this.lastSent + interval - performance.now());
        this.timer = setTimeout(() => {
            this.timer = null;
            this.send();
        }, wait);
    }

    /**
     * Send one request now.
     * @param {object[]} [editsOverride] default: options.edits()
     */
    async send(editsOverride) {
        const { fetchPreview, format } = this.options;
        const nodeId = this.options.nodeId();
        if (!fetchPreview || nodeId === null || nodeId === undefined) return;
        const edits = editsOverride ?? this.options.edits();
        const key = JSON.stringify(edits);
        if (this.inflight) {
            this.inflight.abort();
            this.stats.aborted += 1;
        }
        const controller = new AbortController();
        this.inflight = controller;
        const seq = ++this.seq;
        const started = performance.now();
        this.lastSent = started;
        this.stats.sent += 1;
        const body = { node_id: String(nodeId), edits, format };
        const maxSide = this.options.maxSide();
        if (maxSide !== undefined) body.max_side = maxSide;
        let response, data;
        try {
            response = await fetchPreview(body, controller.signal);
            data = await response.json().catch(() => ({}));
        } catch (err) {
            if (err?.name === "AbortError" || controller.signal.aborted) return;
            this.stats.failed += 1;
            this.options.onProblem(`Live preview failed: ${err?.message ?? err}`, "warn");
            return;
        } finally {
            if (this.inflight === controller) this.inflight = null;
        }
        if (controller.signal.aborted || this.closed) return;
        if (response.status === 409) return; // overtaken by our own newer request
        if (response.status === 404) {
            this.available = false;
            this.stats.failed += 1;
            this.options.onMissing();
            return;
        }
        if (!response.ok) {
            this.stats.failed += 1;
            this.options.onProblem(`Live preview: ${data?.error ?? `HTTP ${response.status}`}`,
                response.status === 400 ? "error" : "warn");
            return;
        }
        this.available = true;
        if (data.scene) {
            try {
                this.options.onScene(data.scene);
            } catch (err) {
                this.options.onProblem(`Live preview sent a bad scene: ${err.message}`, "error");
                return;
            }
        }
        let img;
        try {
            img = await loadImage(data.image);
        } catch {
            this.stats.failed += 1;
            return;
        }
        if (seq < this.shownSeq || this.closed) return; // a newer image is already up
        this.shownSeq = seq;
        this.roundTripMs = performance.now() - started;
        this.times.push(this.roundTripMs);
        if (this.times.length > 100) this.times.shift();
        this.stats.received += 1;
        this.options.onImage(img, key);
    }

    /** Abort the request in flight and send nothing more. */
    close() {
        this.closed = true;
        this.inflight?.abort();
        clearTimeout(this.timer);
    }
}

/**
 * Decode an image from a URL (data: URLs included).
 * @param {string} src
 * @returns {Promise<HTMLImageElement>}
 */
export function loadImage(src) {
    return new Promise((resolve, reject) => {
        const img = new Image();
        img.decoding = "async";
        img.onload = () => resolve(img);
        img.onerror = () => reject(new Error(`could not load image ${String(src).slice(0, 80)}`));
        img.src = src;
    });
}

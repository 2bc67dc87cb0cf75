// Pure geometry for the blob editor widget: the scene model, the edit list (docs/edit-list.md),
// ellipses, coordinate transforms, hit testing, gestures, undo history and the DragGAN points.
// No DOM and no ComfyUI imports, so `node --test tests/js/` can test all of it.
//
// Units used throughout:
//   normalized  image units: the image is 1 wide and 1 tall, (0,0) top-left, x right, y down;
//               blob centres, moves and covariances (normalized units squared) live here.
//   canvas px   pixels of the widget's <canvas> backing store (what the 2D context draws in).
//   image px    pixels of the generated image (DragGAN points), x_px = x_norm * image width.
//
// Recommended use of the gesture helpers (no drift, no hundreds of edits): at pointerdown keep
// `base = history.current` and `start = applyEdits(input, base)`; at every pointermove compute the
// gesture's TOTAL edit from `start` and the pointerdown position, then
// `edits = pushOrMergeMany(base, gestureEdits)`; at pointerup `history.push(edits)`.

// =================================================================================================
// Scene model
// =================================================================================================

/**
 * One blob of the scene as the server sends it (batch item 0).
 * @typedef {Object} SceneBlob
 * @property {number} id      blob id: its index in `SceneInfo.blobs` (0..K-1; duplicates get K, K+1, ...)
 * @property {number} x       centre x, normalized units (0 = left edge, 1 = right edge)
 * @property {number} y       centre y, normalized units (0 = top edge, 1 = bottom edge)
 * @property {number} size    size logit s (peak opacity = sigmoid(s)); s <= 0 means hidden
 * @property {number[][]} cov covariance Sigma [[a, b], [b, c]], normalized units squared, as in
 *                            `Layout.covs` (it already includes the +1e-5 I)
 * @property {string} color   "#rrggbb", the blob's colour on the blob map
 */

/**
 * What the server sends the widget about the scene under edit (batch item 0 of the input layout).
 * @typedef {Object} SceneInfo
 * @property {number} width       image width, image px
 * @property {number} height      image height, image px
 * @property {SceneBlob[]} blobs  every blob, `blobs[i].id === i`
 * @property {number[]} order     all blob ids in depth order, back to front (later = drawn in front)
 * @property {string[]} [palette] optional blob colours "#rrggbb"; blob k is drawn in
 *                                `palette[k % palette.length]`, which colours new duplicates too
 */

const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

/** Size logit that `remove` writes: sigmoid(-100) is 0 for any practical purpose. */
export const REMOVED_SIZE = -100;

/**
 * Check a scene info object and return a deep copy (the caller's object is never kept).
 * Throws an Error naming the bad field and what is allowed.
 * @param {SceneInfo} scene
 * @returns {SceneInfo}
 */
export function parseSceneInfo(scene) {
    const fail = (field, allowed, got) => {
        throw new Error(`scene info: "${field}" must be ${allowed}; got ${describe(got)}`);
    };
    if (!isPlainObject(scene)) fail("scene", "an object {width, height, blobs, order}", scene);
    for (const field of ["width", "height"]) {
        const v = scene[field];
        if (!(Number.isFinite(v) && v > 0)) fail(field, "a positive number of image pixels", v);
    }
    if (!Array.isArray(scene.blobs)) fail("blobs", "a list of blobs", scene.blobs);
    const blobs = scene.blobs.map((b, i) => {
        const at = `blobs[${i}]`;
        if (!isPlainObject(b)) fail(at, "an object {id, x, y, size, cov, color}", b);
        if (b.id !== i) fail(`${at}.id`, `${i} (blobs are listed by id)`, b.id);
        for (const f of ["x", "y", "size"]) {
            if (!Number.isFinite(b[f])) fail(`${at}.${f}`, "a finite number", b[f]);
        }
        const cov = b.cov;
        const ok = Array.isArray(cov) && cov.length === 2 && cov.every(
            (row) => Array.isArray(row) && row.length === 2 && row.every(Number.isFinite));
        if (!ok) fail(`${at}.cov`, "a 2x2 list of finite numbers [[a, b], [b, c]]", cov);
        if (!(cov[0][0] > 0 && cov[1][1] > 0 && cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0] > 0)) {
            fail(`${at}.cov`, "positive definite", cov);
        }
        if (typeof b.color !== "string" || !HEX_COLOR.test(b.color)) fail(`${at}.color`, '"#rrggbb"', b.color);
        // Symmetrize: the server's float32 round trip may leave b != b' in the last bit.
        const off = (cov[0][1] + cov[1][0]) / 2;
        return { id: i, x: b.x, y: b.y, size: b.size, cov: [[cov[0][0], off], [off, cov[1][1]]], color: b.color };
    });
    const order = scene.order;
    const isPermutation = Array.isArray(order) && order.length === blobs.length &&
        order.every((id) => Number.isInteger(id) && id >= 0 && id < blobs.length) &&
        new Set(order).size === blobs.length;
    if (!isPermutation) fail("order", `every blob id 0..${blobs.length - 1} exactly once`, order);
    const out = { width: scene.width, height: scene.height, blobs, order: [...order] };
    if (scene.palette !== undefined) {
        const pal = scene.palette;
        if (!Array.isArray(pal) || pal.length === 0 || !pal.every((c) => typeof c === "string" && HEX_COLOR.test(c))) {
            fail("palette", 'a non-empty list of "#rrggbb" colours', pal);
        }
        out.palette = [...pal];
    }
    return out;
}

/**
 * Deep copy of a scene (blobs, covariances, order, palette).
 * @param {SceneInfo} scene
 * @returns {SceneInfo}
 */
export function cloneScene(scene) {
    const out = { ...scene, blobs: scene.blobs.map(cloneBlob), order: [...scene.order] };
    if (scene.palette) out.palette = [...scene.palette];
    return out;
}

function cloneBlob(b) {
    return { ...b, cov: [[b.cov[0][0], b.cov[0][1]], [b.cov[1][0], b.cov[1][1]]] };
}

/**
 * Whether a blob has a visible outline (size logit s > 0).
 * @param {SceneBlob} blob
 * @returns {boolean}
 */
export function isVisible(blob) {
    return blob.size > 0;
}

// =================================================================================================
// Covariance algebra (mirrors blobgan_core/layout.py cov_axes / cov_from_axes)
// =================================================================================================

/**
 * Eigen-decomposition of a symmetric 2x2 covariance.
 * @param {number[][]} cov [[a, b], [b, c]], units squared
 * @returns {{angle: number, major: number, minor: number}} angle of the major axis in radians,
 *   measured from +x towards +y (clockwise on screen), in (-pi/2, pi/2]; major >= minor variances
 *   (units squared; minor clamped to >= 1e-12 as in Python)
 */
export function covAxes(cov) {
    const a = cov[0][0], b = cov[0][1], c = cov[1][1];
    const mean = (a + c) / 2;
    const half = Math.hypot((a - c) / 2, b);
    return { angle: 0.5 * Math.atan2(2 * b, a - c), major: mean + half, minor: Math.max(mean - half, 1e-12) };
}

/**
 * Covariance from an axis angle and two axis variances (inverse of covAxes).
 * @param {number} angle radians, from +x towards +y
 * @param {number} major variance along the angle, units squared
 * @param {number} minor variance across it, units squared
 * @returns {number[][]} [[a, b], [b, c]]
 */
export function covFromAxes(angle, major, minor) {
    const cs = Math.cos(angle), sn = Math.sin(angle);
    const a = major * cs * cs + minor * sn * sn;
    const b = (major - minor) * cs * sn;
    const c = major * sn * sn + minor * cs * cs;
    return [[a, b], [b, c]];
}

/**
 * Rotate a covariance: Sigma <- R Sigma R^T, R = [[cos t, -sin t], [sin t, cos t]], t = degrees*pi/180.
 * With y down, positive degrees turn the ellipse clockwise on screen.
 * @param {number[][]} cov [[a, b], [b, c]]
 * @param {number} degrees
 * @returns {number[][]}
 */
export function rotateCov(cov, degrees) {
    const t = (degrees * Math.PI) / 180;
    const cs = Math.cos(t), sn = Math.sin(t);
    const a = cov[0][0], b = cov[0][1], c = cov[1][1];
    // R Sigma R^T written out, so the result is exactly symmetric.
    const na = cs * cs * a - 2 * cs * sn * b + sn * sn * c;
    const nb = cs * sn * (a - c) + (cs * cs - sn * sn) * b;
    const nc = sn * sn * a + 2 * cs * sn * b + cs * cs * c;
    return [[na, nb], [nb, nc]];
}

/**
 * Reshape a covariance keeping its area: major-axis variance * aspect, minor-axis variance / aspect.
 * @param {number[][]} cov [[a, b], [b, c]]
 * @param {number} aspect > 0
 * @returns {number[][]}
 */
export function reshapeCov(cov, aspect) {
    const { angle, major, minor } = covAxes(cov);
    return covFromAxes(angle, major * aspect, minor / aspect);
}

/**
 * Covariance in canvas px squared for an image drawn in `rect`: D Sigma D with D = diag(width, height).
 * Normalized x is stretched by the displayed width and y by the displayed height, so a circle in
 * normalized units is an ellipse on a non-square image.
 * @param {number[][]} cov normalized units squared
 * @param {ImageRect} rect
 * @returns {number[][]} canvas px squared
 */
export function covToPixels(cov, rect) {
    const w = rect.width, h = rect.height;
    const off = cov[0][1] * w * h;
    return [[cov[0][0] * w * w, off], [off, cov[1][1] * h * h]];
}

/**
 * Mahalanobis form (p - c)^T Sigma^-1 (p - c) of an offset; the half-opacity outline is where it equals s.
 * @param {number[][]} cov units squared
 * @param {number} dx offset x, units
 * @param {number} dy offset y, units
 * @returns {number} dimensionless; Infinity for a singular covariance
 */
export function mahalanobis2(cov, dx, dy) {
    const a = cov[0][0], b = cov[0][1], c = cov[1][1];
    const det = a * c - b * b;
    if (!(det > 0)) return Infinity;
    return (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det;
}

// =================================================================================================
// Ellipses
// =================================================================================================

/**
 * An ellipse: centre, semi-axes along its own axes, rotation.
 * @typedef {Object} Ellipse
 * @property {number} cx     centre x (normalized units or canvas px, as the producer says)
 * @property {number} cy     centre y
 * @property {number} rx     semi-axis along the major axis (same units), rx >= ry
 * @property {number} ry     semi-axis along the minor axis
 * @property {number} angle  radians from +x towards +y (the rotation argument of ctx.ellipse)
 * @property {boolean} hidden true when drawn with a nominal size because the blob is hidden
 */

/**
 * Semi-axes of the half-opacity outline {p : (p-c)^T Sigma^-1 (p-c) = s}: sqrt(s * lambda_i).
 * @param {number[][]} cov units squared (normalized, or canvas px from covToPixels)
 * @param {number} size size logit s
 * @returns {{rx: number, ry: number, angle: number} | null} semi-axes in the cov's units and the
 *   major axis angle (radians, +x towards +y); null when s <= 0 (hidden)
 */
export function ellipseAxes(cov, size) {
    if (!(size > 0)) return null;
    const { angle, major, minor } = covAxes(cov);
    return { rx: Math.sqrt(size * major), ry: Math.sqrt(size * minor), angle };
}

/**
 * A blob's half-opacity outline in normalized units.
 * @param {SceneBlob} blob
 * @param {{hiddenSize?: number}} [opts] hiddenSize: nominal s for hidden blobs (default 1); pass
 *   null to get null for hidden blobs instead
 * @returns {Ellipse | null}
 */
export function blobEllipse(blob, { hiddenSize = 1 } = {}) {
    return ellipseOf(blob.cov, blob.size, blob.x, blob.y, hiddenSize);
}

/**
 * A blob's half-opacity outline in canvas px, for an image drawn in `rect` (handles non-square images).
 * @param {SceneBlob} blob
 * @param {ImageRect} rect
 * @param {{hiddenSize?: number}} [opts] as in blobEllipse
 * @returns {Ellipse | null} in canvas px; angle is the on-screen angle (use with ctx.ellipse)
 */
export function blobEllipsePx(blob, rect, { hiddenSize = 1 } = {}) {
    const c = normToCanvas(rect, blob.x, blob.y);
    return ellipseOf(covToPixels(blob.cov, rect), blob.size, c.x, c.y, hiddenSize);
}

function ellipseOf(cov, size, cx, cy, hiddenSize) {
    const hidden = !(size > 0);
    if (hidden && !(hiddenSize > 0)) return null;
    const axes = ellipseAxes(cov, hidden ? hiddenSize : size);
    return { cx, cy, rx: axes.rx, ry: axes.ry, angle: axes.angle, hidden };
}

/**
 * Whether a normalized point lies inside (or on) a blob's half-opacity outline.
 * @param {SceneBlob} blob
 * @param {{x: number, y: number}} p normalized units
 * @param {number} [hiddenSize] nominal s used for hidden blobs; without it a hidden blob contains nothing
 * @returns {boolean}
 */
export function blobContains(blob, p, hiddenSize) {
    const s = blob.size > 0 ? blob.size : hiddenSize;
    if (!(s > 0)) return false;
    return mahalanobis2(blob.cov, p.x - blob.x, p.y - blob.y) <= s;
}

// =================================================================================================
// Coordinate transforms
// =================================================================================================

/**
 * Where the image is drawn inside the widget's canvas.
 * @typedef {Object} ImageRect
 * @property {number} x0           left edge, canvas px
 * @property {number} y0           top edge, canvas px
 * @property {number} width        displayed width, canvas px
 * @property {number} height       displayed height, canvas px
 * @property {number} scale        canvas px per image px (same on both axes)
 * @property {number} imageWidth   image px
 * @property {number} imageHeight  image px
 */

/**
 * Fit an image into a box, preserving its aspect ratio, centred (letterboxed or pillarboxed).
 * @param {number} imageWidth image px, > 0
 * @param {number} imageHeight image px, > 0
 * @param {number} boxWidth canvas px
 * @param {number} boxHeight canvas px
 * @param {{x?: number, y?: number, padding?: number}} [opts] box top-left (canvas px, default 0)
 *   and a margin kept free on every side (canvas px, default 0)
 * @returns {ImageRect}
 */
export function fitImageRect(imageWidth, imageHeight, boxWidth, boxHeight, { x = 0, y = 0, padding = 0 } = {}) {
    if (!(imageWidth > 0 && imageHeight > 0)) {
        throw new Error(`fitImageRect: image size must be positive; got ${imageWidth}x${imageHeight}`);
    }
    const innerW = Math.max(boxWidth - 2 * padding, 0), innerH = Math.max(boxHeight - 2 * padding, 0);
    const scale = Math.min(innerW / imageWidth, innerH / imageHeight);
    const width = imageWidth * scale, height = imageHeight * scale;
    return {
        x0: x + (boxWidth - width) / 2,
        y0: y + (boxHeight - height) / 2,
        width,
        height,
        scale,
        imageWidth,
        imageHeight,
    };
}

/**
 * Canvas px -> normalized image units (points outside the image give values outside 0..1).
 * @param {ImageRect} rect
 * @param {number} px canvas px
 * @param {number} py canvas px
 * @returns {{x: number, y: number}} normalized units
 */
export function canvasToNorm(rect, px, py) {
    return { x: (px - rect.x0) / rect.width, y: (py - rect.y0) / rect.height };
}

/**
 * Normalized image units -> canvas px.
 * @param {ImageRect} rect
 * @param {number} x normalized
 * @param {number} y normalized
 * @returns {{x: number, y: number}} canvas px
 */
export function normToCanvas(rect, x, y) {
    return { x: rect.x0 + x * rect.width, y: rect.y0 + y * rect.height };
}

/**
 * Canvas px -> image px (continuous: x_px = x_norm * image width).
 * @param {ImageRect} rect
 * @param {number} px canvas px
 * @param {number} py canvas px
 * @returns {{x: number, y: number}} image px
 */
export function canvasToImagePx(rect, px, py) {
    return { x: (px - rect.x0) / rect.scale, y: (py - rect.y0) / rect.scale };
}

/**
 * Image px -> canvas px.
 * @param {ImageRect} rect
 * @param {number} ix image px
 * @param {number} iy image px
 * @returns {{x: number, y: number}} canvas px
 */
export function imagePxToCanvas(rect, ix, iy) {
    return { x: rect.x0 + ix * rect.scale, y: rect.y0 + iy * rect.scale };
}

/**
 * A canvas-px displacement -> a normalized displacement (for move edits).
 * @param {ImageRect} rect
 * @param {number} dxPx canvas px
 * @param {number} dyPx canvas px
 * @returns {{dx: number, dy: number}} normalized units
 */
export function pixelDeltaToNorm(rect, dxPx, dyPx) {
    return { dx: dxPx / rect.width, dy: dyPx / rect.height };
}

/**
 * Pointer client coordinates -> canvas px, given the canvas element's bounding client rect and its
 * backing-store size; this absorbs CSS zoom, devicePixelRatio and the graph canvas zoom.
 * @param {number} clientX CSS px (PointerEvent.clientX)
 * @param {number} clientY CSS px
 * @param {{left: number, top: number, width: number, height: number}} bounds getBoundingClientRect(), CSS px
 * @param {number} canvasWidth canvas.width, canvas px
 * @param {number} canvasHeight canvas.height, canvas px
 * @returns {{x: number, y: number}} canvas px
 */
export function clientToCanvas(clientX, clientY, bounds, canvasWidth, canvasHeight) {
    const sx = bounds.width > 0 ? canvasWidth / bounds.width : 1;
    const sy = bounds.height > 0 ? canvasHeight / bounds.height : 1;
    return { x: (clientX - bounds.left) * sx, y: (clientY - bounds.top) * sy };
}

// =================================================================================================
// Hit testing
// =================================================================================================

/**
 * The blob under a point: the front-most blob whose half-opacity outline contains it; failing
 * that, the blob whose centre is nearest, if within `pickRadiusPx`.
 * @param {SceneInfo} scene
 * @param {{x: number, y: number}} p normalized units
 * @param {{rect?: ImageRect, pickRadiusPx?: number, includeHidden?: boolean, hiddenSize?: number}} [opts]
 *   rect: needed for the centre fallback (the radius is in canvas px); pickRadiusPx: default 12;
 *   includeHidden: also pick hidden blobs, using a nominal outline of size hiddenSize (default 1)
 * @returns {number | null} blob id
 */
export function hitTestBlob(scene, p, { rect, pickRadiusPx = 12, includeHidden = false, hiddenSize = 1 } = {}) {
    const frontToBack = [...scene.order].reverse();
    const candidates = frontToBack.filter((id) => includeHidden || isVisible(scene.blobs[id]));
    for (const id of candidates) {
        if (blobContains(scene.blobs[id], p, includeHidden ? hiddenSize : undefined)) return id;
    }
    if (!rect) return null;
    let best = null, bestDist = pickRadiusPx;
    for (const id of candidates) {
        const b = scene.blobs[id];
        const d = Math.hypot((p.x - b.x) * rect.width, (p.y - b.y) * rect.height);
        // Strict < keeps the front-most blob on ties (candidates run front to back).
        if (d < bestDist || (best === null && d <= bestDist)) {
            best = id;
            bestDist = d;
        }
    }
    return best;
}

/**
 * Ids of the blobs whose centres lie in the box spanned by two normalized corners (marquee selection).
 * @param {SceneInfo} scene
 * @param {{x: number, y: number}} a normalized corner
 * @param {{x: number, y: number}} b normalized opposite corner
 * @param {{includeHidden?: boolean}} [opts]
 * @returns {number[]} ids, back to front
 */
export function blobsInBox(scene, a, b, { includeHidden = false } = {}) {
    const x0 = Math.min(a.x, b.x), x1 = Math.max(a.x, b.x);
    const y0 = Math.min(a.y, b.y), y1 = Math.max(a.y, b.y);
    return scene.order.filter((id) => {
        const bl = scene.blobs[id];
        return (includeHidden || isVisible(bl)) && bl.x >= x0 && bl.x <= x1 && bl.y >= y0 && bl.y <= y1;
    });
}

/** Names of the editor's handles on a selected blob. */
export const HANDLES = Object.freeze(["resize", "aspect", "rotate"]);

/**
 * Handle positions on a visible blob, in canvas px: resize at the major-axis end, aspect at the
 * minor-axis end, rotate beyond the major-axis end. Axes shorter than minRadiusPx are drawn at
 * minRadiusPx so that handles of tiny blobs stay apart (gestures do not depend on where they sit).
 * @param {SceneBlob} blob
 * @param {ImageRect} rect
 * @param {{rotateOffsetPx?: number, minRadiusPx?: number}} [opts] defaults 24 and 12 canvas px
 * @returns {{center: {x: number, y: number}, resize: {x: number, y: number},
 *   aspect: {x: number, y: number}, rotate: {x: number, y: number}} | null} null for a hidden blob
 */
export function blobHandles(blob, rect, { rotateOffsetPx = 24, minRadiusPx = 12 } = {}) {
    const e = blobEllipsePx(blob, rect, { hiddenSize: null });
    if (!e) return null;
    const ux = Math.cos(e.angle), uy = Math.sin(e.angle);
    const major = Math.max(e.rx, minRadiusPx), minor = Math.max(e.ry, minRadiusPx);
    return {
        center: { x: e.cx, y: e.cy },
        resize: { x: e.cx + major * ux, y: e.cy + major * uy },
        aspect: { x: e.cx - minor * uy, y: e.cy + minor * ux },
        rotate: { x: e.cx + (major + rotateOffsetPx) * ux, y: e.cy + (major + rotateOffsetPx) * uy },
    };
}

/**
 * Which handle of a blob a canvas point hits: the nearest one within radiusPx.
 * @param {SceneBlob} blob
 * @param {ImageRect} rect
 * @param {{x: number, y: number}} pPx canvas px
 * @param {{radiusPx?: number, rotateOffsetPx?: number, minRadiusPx?: number}} [opts] radiusPx default 8
 * @returns {"resize" | "aspect" | "rotate" | null}
 */
export function handleAt(blob, rect, pPx, { radiusPx = 8, ...placement } = {}) {
    const handles = blobHandles(blob, rect, placement);
    if (!handles) return null;
    let best = null, bestDist = radiusPx;
    for (const name of HANDLES) {
        const d = Math.hypot(pPx.x - handles[name].x, pPx.y - handles[name].y);
        if (d <= bestDist) {
            best = name;
            bestDist = d;
        }
    }
    return best;
}

/**
 * Which handle of the selected blobs a canvas point hits; front-most blob first.
 * @param {SceneInfo} scene
 * @param {Iterable<number>} selectedIds
 * @param {ImageRect} rect
 * @param {{x: number, y: number}} pPx canvas px
 * @param {{radiusPx?: number, rotateOffsetPx?: number, minRadiusPx?: number}} [opts]
 * @returns {{id: number, handle: "resize" | "aspect" | "rotate"} | null}
 */
export function hitTestHandles(scene, selectedIds, rect, pPx, opts = {}) {
    const selected = new Set(selectedIds);
    for (const id of [...scene.order].reverse()) {
        if (!selected.has(id)) continue;
        const handle = handleAt(scene.blobs[id], rect, pPx, opts);
        if (handle) return { id, handle };
    }
    return null;
}

// =================================================================================================
// The edit list: validation and application (docs/edit-list.md)
// =================================================================================================

/**
 * One edit, e.g. {op: "move", blob: 3, dx: 0.1, dy: 0}. Fields per op as in docs/edit-list.md.
 * @typedef {Object<string, *>} Edit
 */

const ID = "id", NUM = "number", POS = "positive", BOOL = "bool", SOURCE_ID = "source_id", SCENE = "scene";

// Field kinds per op, in the order they are serialized. Fields listed in OPTIONAL have defaults.
const OP_FIELDS = {
    move: { blob: ID, dx: NUM, dy: NUM },
    resize: { blob: ID, scale: POS },
    set_size: { blob: ID, size: NUM },
    reshape: { blob: ID, aspect: POS },
    rotate: { blob: ID, degrees: NUM },
    remove: { blob: ID },
    duplicate: { blob: ID, dx: NUM, dy: NUM },
    restyle: { blob: ID, source_blob: SOURCE_ID, style: BOOL, structure: BOOL, scene: SCENE },
    forward: { blob: ID },
    backward: { blob: ID },
    to_front: { blob: ID },
    to_back: { blob: ID },
};
const OPTIONAL = {
    duplicate: { dx: 0, dy: 0 },
    restyle: { style: true, structure: false, scene: "source" },
};
const RESTYLE_SCENES = ["source", "self"];

/** The edit ops of docs/edit-list.md. */
export const EDIT_OPS = Object.freeze(Object.keys(OP_FIELDS));

/** Error in an edit list; `index` is the edit's position, `field` the offending field (or null). */
export class EditListError extends Error {
    /**
     * @param {string} message
     * @param {number | null} index position of the edit in the list, null for the list itself
     * @param {string | null} field
     */
    constructor(message, index = null, field = null) {
        super(message);
        this.name = "EditListError";
        this.index = index;
        this.field = field;
    }
}

function editError(index, op, field, message) {
    // Same "edit #i (op)" prefix as blobgan_core/edits.py.
    const where = op ? `edit #${index} (${op})` : `edit #${index}`;
    return new EditListError(`${where}: ${message}`, index, field);
}

function idRange(count) {
    return count > 0 ? `0..${count - 1}` : "none (the scene has no blobs)";
}

/**
 * Check the shape of one edit: known op, known fields, all required fields, types, finiteness,
 * positivity. Ids are checked against `blobCount` when given (the count at this point of the list).
 * @param {*} edit
 * @param {number} index position in the list, for messages
 * @param {{blobCount?: number, inputBlobCount?: number, sourceBlobCount?: number}} [opts]
 *   inputBlobCount: K of the input scene, which `"scene": "self"` restyles read from (default
 *   blobCount); sourceBlobCount: K of the restyle source scene, when known
 * @returns {Edit} the edit with defaults filled in (a new object)
 * @throws {EditListError}
 */
export function validateEdit(edit, index, { blobCount, inputBlobCount = blobCount, sourceBlobCount } = {}) {
    if (!isPlainObject(edit)) {
        throw editError(index, null, null,
            `each edit must be an object like {"op": "move", "blob": 0, "dx": 0.1, "dy": 0}; got ${describe(edit)}`);
    }
    const op = edit.op;
    if (!Object.hasOwn(OP_FIELDS, op)) {
        const what = op === undefined ? 'missing "op"' : `unknown op ${describe(op)}`;
        throw editError(index, null, "op", `${what}; allowed ops: ${EDIT_OPS.join(", ")}`);
    }
    const spec = OP_FIELDS[op];
    const allowed = ["op", ...Object.keys(spec)].join(", ");
    for (const key of Object.keys(edit)) {
        if (key !== "op" && !Object.hasOwn(spec, key)) {
            throw editError(index, op, key, `unknown field "${key}"; allowed fields: ${allowed}`);
        }
    }
    const out = { op };
    const defaults = OPTIONAL[op] ?? {};
    for (const [field, kind] of Object.entries(spec)) {
        if (!Object.hasOwn(edit, field)) {
            if (Object.hasOwn(defaults, field)) {
                out[field] = defaults[field];
                continue;
            }
            throw editError(index, op, field, `missing field "${field}"; fields of ${op}: ${allowed}`);
        }
        out[field] = checkField(edit[field], kind, field, index, op,
            { blobCount, inputBlobCount, sourceBlobCount, scene: edit.scene });
    }
    return out;
}

function checkField(value, kind, field, index, op, { blobCount, inputBlobCount, sourceBlobCount, scene }) {
    const bad = (allowedText) =>
        editError(index, op, field, `"${field}" must be ${allowedText}; got ${describe(value)}`);
    switch (kind) {
        case NUM:
            if (!Number.isFinite(value)) throw bad("a finite number");
            return value;
        case POS:
            if (!(Number.isFinite(value) && value > 0)) throw bad("a finite number > 0");
            return value;
        case BOOL:
            if (typeof value !== "boolean") throw bad("true or false");
            return value;
        case SCENE:
            if (!RESTYLE_SCENES.includes(value)) throw bad(`one of ${RESTYLE_SCENES.map((s) => `"${s}"`).join(", ")}`);
            return value;
        case ID:
            if (!isBlobId(value, blobCount)) {
                throw bad(`a blob id, an integer in ${blobCount === undefined ? "0..K-1" : idRange(blobCount)}`);
            }
            return value;
        case SOURCE_ID: {
            if (value === "background") return value;
            // "self" reads the node's input scene, so duplicates made by earlier edits do not count.
            const self = (scene ?? "source") === "self";
            const count = self ? inputBlobCount : sourceBlobCount;
            const range = count === undefined ? "0..K-1" : idRange(count);
            const of = self ? "the input scene" : "the source scene";
            if (!isBlobId(value, count)) throw bad(`"background" or a blob id of ${of}, an integer in ${range}`);
            return value;
        }
        default:
            throw new Error(`internal: unknown field kind ${kind}`);
    }
}

function isBlobId(value, count) {
    return Number.isInteger(value) && value >= 0 && (count === undefined || value < count);
}

/**
 * Check a whole edit list without applying it. With blobCount (K of the input scene) the ids are
 * checked too, counting the blobs that duplicates add.
 * @param {*} edits
 * @param {{blobCount?: number, sourceBlobCount?: number}} [opts]
 * @returns {Edit[]} the edits with defaults filled in
 * @throws {EditListError}
 */
export function validateEdits(edits, { blobCount, sourceBlobCount } = {}) {
    if (!Array.isArray(edits)) {
        throw new EditListError(`edits must be a JSON list of edit objects; got ${describe(edits)}`);
    }
    let count = blobCount;
    return edits.map((edit, i) => {
        const checked = validateEdit(edit, i, { blobCount: count, inputBlobCount: blobCount, sourceBlobCount });
        if (checked.op === "duplicate" && count !== undefined) count += 1;
        return checked;
    });
}

/**
 * Apply an edit list to the scene geometry (centres, sizes, covariances, depth order), exactly as
 * docs/edit-list.md says; restyle changes no geometry but its ids are checked; resizing a hidden
 * blob leaves it as it is. A duplicate's colour is `palette[id % palette.length]` when the scene has
 * a palette, else its original's. Pure: returns a new scene.
 * @param {SceneInfo} scene
 * @param {Edit[]} edits
 * @param {{sourceBlobCount?: number}} [opts] K of the restyle source scene, when known
 * @returns {SceneInfo}
 * @throws {EditListError} on the first bad edit (message names its position, field and allowed values)
 */
export function applyEdits(scene, edits, { sourceBlobCount } = {}) {
    if (!Array.isArray(edits)) {
        throw new EditListError(`edits must be a JSON list of edit objects; got ${describe(edits)}`);
    }
    const out = cloneScene(scene);
    const inputBlobCount = scene.blobs.length;
    edits.forEach((raw, i) => {
        const e = validateEdit(raw, i, { blobCount: out.blobs.length, inputBlobCount, sourceBlobCount });
        applyOne(out, e);
    });
    return out;
}

function applyOne(scene, e) {
    const blob = scene.blobs[e.blob];
    switch (e.op) {
        case "move":
            blob.x += e.dx;
            blob.y += e.dy;
            return;
        case "resize":
            // A hidden blob stays hidden (revive it with set_size), as in blobgan_core/edits.py.
            if (blob.size > 0) blob.size *= e.scale * e.scale;
            return;
        case "set_size":
            blob.size = e.size;
            return;
        case "reshape":
            blob.cov = reshapeCov(blob.cov, e.aspect);
            return;
        case "rotate":
            blob.cov = rotateCov(blob.cov, e.degrees);
            return;
        case "remove":
            blob.size = REMOVED_SIZE;
            return;
        case "duplicate": {
            const id = scene.blobs.length;
            const copy = cloneBlob(blob);
            copy.id = id;
            copy.x += e.dx;
            copy.y += e.dy;
            if (scene.palette) copy.color = scene.palette[id % scene.palette.length];
            scene.blobs.push(copy);
            scene.order.push(id);
            return;
        }
        case "restyle":
            return;
        case "forward":
        case "backward": {
            // Swap with the neighbour in front (forward) or behind (backward); no-op at the end.
            const at = scene.order.indexOf(e.blob);
            const to = e.op === "forward" ? at + 1 : at - 1;
            if (to < 0 || to >= scene.order.length) return;
            [scene.order[at], scene.order[to]] = [scene.order[to], scene.order[at]];
            return;
        }
        case "to_front":
        case "to_back": {
            scene.order.splice(scene.order.indexOf(e.blob), 1);
            if (e.op === "to_front") scene.order.push(e.blob);
            else scene.order.unshift(e.blob);
            return;
        }
        default:
            throw new Error(`internal: no geometry for op ${e.op}`);
    }
}

// =================================================================================================
// Gestures -> edits, and merging
// =================================================================================================

/** Smallest and largest scale one resize gesture produces (keeps sizes positive and sane). */
export const GESTURE_SCALE_RANGE = Object.freeze([0.05, 20]);

/**
 * Move edits for a drag of the selected blobs.
 * @param {Iterable<number>} ids blob ids (one move each, in the given order)
 * @param {number} dx normalized units (see pixelDeltaToNorm)
 * @param {number} dy normalized units
 * @returns {Edit[]}
 */
export function moveEdits(ids, dx, dy) {
    return [...ids].map((blob) => ({ op: "move", blob, dx, dy }));
}

/**
 * Resize scale for a wheel event: exp(-deltaY * sensitivity), so wheel up (deltaY < 0) grows.
 * @param {number} deltaY WheelEvent.deltaY in CSS px (multiply line-mode deltas by ~16 first)
 * @param {{sensitivity?: number}} [opts] per CSS px, default 0.0015 (a 100 px notch: x0.86 / x1.16)
 * @returns {number} scale > 0
 */
export function wheelScale(deltaY, { sensitivity = 0.0015 } = {}) {
    return Math.exp(-deltaY * sensitivity);
}

/**
 * Resize edits for a wheel event over the selected blobs; hidden blobs are skipped (they cannot be resized).
 * @param {SceneInfo} scene the scene as currently previewed
 * @param {Iterable<number>} ids
 * @param {number} deltaY WheelEvent.deltaY in CSS px
 * @param {{sensitivity?: number}} [opts]
 * @returns {Edit[]}
 */
export function wheelResizeEdits(scene, ids, deltaY, opts = {}) {
    const scale = wheelScale(deltaY, opts);
    return [...ids].filter((id) => isVisible(scene.blobs[id])).map((blob) => ({ op: "resize", blob, scale }));
}

/**
 * The single edit a handle drag amounts to, from the pointerdown position to the current one.
 * - resize: scale = |current - centre| / |start - centre| (canvas px), clamped to GESTURE_SCALE_RANGE.
 * - aspect: the minor semi-axis follows the pointer's projection on the minor axis (ratio r, aspect
 *   = 1/r^2), clamped so the major axis stays the major axis; hence consecutive reshapes merge exactly.
 * - rotate: the angle swept around the centre, measured in normalized units (so the handle stays on
 *   the pointer's ray even on a non-square image), in (-180, 180], optionally snapped.
 * @param {SceneBlob} blob the blob as it was at pointerdown (visible)
 * @param {"resize" | "aspect" | "rotate"} handle
 * @param {{x: number, y: number}} startPx pointerdown position, canvas px
 * @param {{x: number, y: number}} currentPx current pointer position, canvas px
 * @param {ImageRect} rect
 * @param {{snapDegrees?: number}} [opts] snapDegrees: round rotations to this step (e.g. 15 with Shift)
 * @returns {Edit}
 */
export function handleDragEdit(blob, handle, startPx, currentPx, rect, { snapDegrees = 0 } = {}) {
    const c = normToCanvas(rect, blob.x, blob.y);
    const sx = startPx.x - c.x, sy = startPx.y - c.y;
    const qx = currentPx.x - c.x, qy = currentPx.y - c.y;
    switch (handle) {
        case "resize": {
            const from = Math.hypot(sx, sy);
            const scale = from > 1e-9 ? Math.hypot(qx, qy) / from : 1;
            return { op: "resize", blob: blob.id, scale: clamp(scale, ...GESTURE_SCALE_RANGE) };
        }
        case "aspect": {
            const e = blobEllipsePx(blob, rect);
            const mx = -Math.sin(e.angle), my = Math.cos(e.angle); // minor axis direction on screen
            const from = sx * mx + sy * my;
            const r = Math.abs(from) > 1e-9 ? Math.max((qx * mx + qy * my) / from, 1e-3) : 1;
            // Keep major * aspect >= minor / aspect (with a margin) so the axes never swap.
            const { major, minor } = covAxes(blob.cov);
            const lowest = Math.min(1, Math.sqrt((minor / major) * (1 + 1e-3)));
            return { op: "reshape", blob: blob.id, aspect: clamp(1 / (r * r), lowest, 1e4) };
        }
        case "rotate": {
            // Angles in normalized units: the normalized -> px map is linear, so parallel rays stay parallel.
            const a0 = Math.atan2(sy / rect.height, sx / rect.width);
            const a1 = Math.atan2(qy / rect.height, qx / rect.width);
            let degrees = wrapDegrees(((a1 - a0) * 180) / Math.PI);
            if (snapDegrees > 0) degrees = wrapDegrees(Math.round(degrees / snapDegrees) * snapDegrees);
            return { op: "rotate", blob: blob.id, degrees };
        }
        default:
            throw new Error(`handleDragEdit: handle must be one of ${HANDLES.join(", ")}; got ${describe(handle)}`);
    }
}

function wrapDegrees(d) {
    let w = d % 360;
    if (w > 180) w -= 360;
    if (w <= -180) w += 360;
    return w === 0 ? 0 : w; // no -0
}

/**
 * Merge `next` into `prev` when applying the merged edit equals applying both in turn:
 * move+move (dx, dy add), resize+resize (scales multiply), rotate+rotate (degrees add),
 * reshape+reshape (aspects multiply; exact while the major axis stays major, which
 * handleDragEdit guarantees), set_size+set_size (the later wins); same op and same blob only.
 * @param {Edit} prev
 * @param {Edit} next
 * @returns {Edit | null} the merged edit, or null when they do not merge
 */
export function mergeEdits(prev, next) {
    if (!prev || !next || prev.op !== next.op || prev.blob !== next.blob) return null;
    switch (next.op) {
        case "move":
            return { op: "move", blob: next.blob, dx: prev.dx + next.dx, dy: prev.dy + next.dy };
        case "resize":
            return { op: "resize", blob: next.blob, scale: prev.scale * next.scale };
        case "rotate":
            return { op: "rotate", blob: next.blob, degrees: prev.degrees + next.degrees };
        case "reshape":
            return { op: "reshape", blob: next.blob, aspect: prev.aspect * next.aspect };
        case "set_size":
            return { op: "set_size", blob: next.blob, size: next.size };
        default:
            return null;
    }
}

/**
 * Append an edit, or merge it into the last edit (see mergeEdits). Pure: returns a new list.
 * @param {Edit[]} edits
 * @param {Edit} edit
 * @returns {Edit[]}
 */
export function pushOrMerge(edits, edit) {
    const merged = edits.length ? mergeEdits(edits[edits.length - 1], edit) : null;
    return merged ? [...edits.slice(0, -1), merged] : [...edits, edit];
}

/**
 * Append a group of edits from one gesture (e.g. a move of 3 selected blobs), merging them
 * element-wise into the last group when the last group.length edits all merge with them in order;
 * otherwise append them all. Pure: returns a new list.
 * @param {Edit[]} edits
 * @param {Edit[]} group
 * @returns {Edit[]}
 */
export function pushOrMergeMany(edits, group) {
    const n = group.length;
    if (n === 0) return [...edits];
    if (edits.length >= n) {
        const tail = edits.slice(edits.length - n);
        const merged = tail.map((prev, i) => mergeEdits(prev, group[i]));
        if (merged.every(Boolean)) return [...edits.slice(0, edits.length - n), ...merged];
    }
    return [...edits, ...group];
}

/**
 * Whether an edit changes nothing (move by 0, resize/reshape by 1, rotate by a multiple of 180).
 * A gesture that ends as a no-op should not be committed.
 * @param {Edit} edit
 * @param {number} [tolerance] absolute, default 1e-9
 * @returns {boolean}
 */
export function isIdentityEdit(edit, tolerance = 1e-9) {
    switch (edit.op) {
        case "move":
            return Math.abs(edit.dx) <= tolerance && Math.abs(edit.dy) <= tolerance;
        case "resize":
            return Math.abs(edit.scale - 1) <= tolerance;
        case "reshape":
            return Math.abs(edit.aspect - 1) <= tolerance;
        case "rotate": {
            // An ellipse has 180-degree symmetry.
            const r = ((edit.degrees % 180) + 180) % 180;
            return r <= tolerance || 180 - r <= tolerance;
        }
        default:
            return false;
    }
}

// =================================================================================================
// Serialization and undo history
// =================================================================================================

/** Decimals kept for every number written into the edits widget (keeps workflow files tidy). */
export const EDIT_DECIMALS = 5;

/**
 * Round to a number of decimals, without producing -0.
 * @param {number} value
 * @param {number} [decimals] default EDIT_DECIMALS
 * @returns {number}
 */
export function roundTo(value, decimals = EDIT_DECIMALS) {
    const f = 10 ** decimals;
    const r = Math.round(value * f) / f;
    return r === 0 ? 0 : r;
}

/**
 * The edit list as the JSON string stored in the widget: "[]" when empty, otherwise one edit per
 * line, keys in the order of docs/edit-list.md (op, blob, then the op's fields), numbers rounded to
 * EDIT_DECIMALS decimals, except scale and aspect, which keep EDIT_DECIMALS + 1 significant digits
 * so that they never round to 0. Deterministic: equal lists give equal strings.
 * @param {Edit[]} edits (validated for shape first)
 * @returns {string}
 * @throws {EditListError} on a malformed edit
 */
export function serializeEdits(edits) {
    validateEdits(edits);
    if (edits.length === 0) return "[]";
    const lines = edits.map((edit) => {
        const keys = ["op", ...Object.keys(OP_FIELDS[edit.op]).filter((k) => Object.hasOwn(edit, k))];
        const spec = OP_FIELDS[edit.op];
        const parts = keys.map((k) => {
            const v = typeof edit[k] !== "number" ? edit[k]
                : spec[k] === POS ? Number(edit[k].toPrecision(EDIT_DECIMALS + 1)) : roundTo(edit[k]);
            return `${JSON.stringify(k)}: ${JSON.stringify(v)}`;
        });
        return `  {${parts.join(", ")}}`;
    });
    return `[\n${lines.join(",\n")}\n]`;
}

/**
 * Parse the widget's JSON string into an edit list ("", whitespace and "[]" mean no edits) and
 * check its shape (ops, fields, types; ids only as non-negative integers, as K is unknown here).
 * The edits are returned as written (no defaults filled in), so re-serializing keeps them.
 * @param {string} text
 * @returns {Edit[]}
 * @throws {EditListError} for invalid JSON or a malformed edit
 */
export function parseEdits(text) {
    if (text === undefined || text === null || String(text).trim() === "") return [];
    let data;
    try {
        data = JSON.parse(String(text));
    } catch (err) {
        throw new EditListError(`edits are not valid JSON (${err.message}); expected a list like ` +
            '[{"op": "move", "blob": 0, "dx": 0.1, "dy": 0}]');
    }
    validateEdits(data);
    return data;
}

/** Undo/redo over snapshots of the whole edit list (each push stores a copy). */
export class EditHistory {
    /**
     * @param {Edit[]} [initial] starting edit list (default [])
     * @param {{limit?: number}} [opts] most undo steps kept (default 200)
     */
    constructor(initial = [], { limit = 200 } = {}) {
        this.limit = limit;
        this.reset(initial);
    }

    /** @returns {Edit[]} a copy of the current edit list */
    get current() {
        return JSON.parse(this._current);
    }

    /** @returns {boolean} */
    get canUndo() {
        return this._undo.length > 0;
    }

    /** @returns {boolean} */
    get canRedo() {
        return this._redo.length > 0;
    }

    /**
     * Make `edits` the current list; the old one goes on the undo stack and redo is cleared.
     * @param {Edit[]} edits
     * @returns {boolean} false (and nothing recorded) when `edits` equals the current list
     */
    push(edits) {
        const snap = JSON.stringify(edits);
        if (snap === this._current) return false;
        this._undo.push(this._current);
        if (this._undo.length > this.limit) this._undo.shift();
        this._redo = [];
        this._current = snap;
        return true;
    }

    /** @returns {Edit[] | null} the list after undoing, or null when there is nothing to undo */
    undo() {
        if (!this._undo.length) return null;
        this._redo.push(this._current);
        this._current = this._undo.pop();
        return this.current;
    }

    /** @returns {Edit[] | null} the list after redoing, or null when there is nothing to redo */
    redo() {
        if (!this._redo.length) return null;
        this._undo.push(this._current);
        this._current = this._redo.pop();
        return this.current;
    }

    /**
     * Forget all history and start from `edits` (e.g. when the workflow is loaded or the widget is typed in).
     * @param {Edit[]} [edits]
     */
    reset(edits = []) {
        this._current = JSON.stringify(edits);
        this._undo = [];
        this._redo = [];
    }
}

// =================================================================================================
// DragGAN points (Drag Points node): handles and targets in image px, SAM3-style JSON
// =================================================================================================

/**
 * A point in image px (continuous: x_px = x_norm * image width; x right, y down).
 * @typedef {{x: number, y: number}} ImagePoint
 */

/**
 * Parse a points widget value: JSON [{"x": .., "y": ..}, ...] as ComfyUI point editors (SAM3,
 * KJNodes) write it; [[x, y], ...] is accepted too. "", whitespace and "[]" give [].
 * @param {string} text
 * @param {string} [name] widget name for messages (default "points")
 * @returns {ImagePoint[]} image px
 * @throws {Error} naming the widget, the point's index and the expected form
 */
export function parsePoints(text, name = "points") {
    if (text === undefined || text === null || String(text).trim() === "") return [];
    let data;
    try {
        data = JSON.parse(String(text));
    } catch (err) {
        throw new Error(`${name}: not valid JSON (${err.message}); expected [{"x": 10, "y": 20}, ...] in image pixels`);
    }
    if (!Array.isArray(data)) throw new Error(`${name}: expected a JSON list of points; got ${describe(data)}`);
    return data.map((p, i) => {
        const [x, y] = Array.isArray(p) ? p : isPlainObject(p) ? [p.x, p.y] : [undefined, undefined];
        if (!Number.isFinite(x) || !Number.isFinite(y) || (Array.isArray(p) && p.length !== 2)) {
            throw new Error(`${name}[${i}]: expected {"x": number, "y": number} in image pixels; got ${describe(p)}`);
        }
        return { x, y };
    });
}

/**
 * Points as compact SAM3-style JSON [{"x":12,"y":40}], rounded to `decimals` (default 0: whole
 * image pixels, which SAM3-style consumers expect).
 * @param {ImagePoint[]} points image px
 * @param {{decimals?: number}} [opts]
 * @returns {string}
 */
export function serializePoints(points, { decimals = 0 } = {}) {
    return JSON.stringify(points.map((p) => ({ x: roundTo(p.x, decimals), y: roundTo(p.y, decimals) })));
}

/**
 * Pair handles with targets by index (handles[i] -> targets[i]); the surplus of the longer list
 * (normally one handle still waiting for its target) is returned apart.
 * @param {ImagePoint[]} handles image px
 * @param {ImagePoint[]} targets image px
 * @returns {{pairs: {handle: ImagePoint, target: ImagePoint}[], unpairedHandles: ImagePoint[],
 *   unpairedTargets: ImagePoint[]}}
 */
export function pairPoints(handles, targets) {
    const n = Math.min(handles.length, targets.length);
    const pairs = [];
    for (let i = 0; i < n; i++) pairs.push({ handle: handles[i], target: targets[i] });
    return { pairs, unpairedHandles: handles.slice(n), unpairedTargets: targets.slice(n) };
}

/**
 * What the next click places: a handle when every handle has its target, else that handle's target.
 * @param {ImagePoint[]} handles
 * @param {ImagePoint[]} targets
 * @returns {"handle" | "target"}
 */
export function nextPointRole(handles, targets) {
    return handles.length > targets.length ? "target" : "handle";
}

/**
 * Remove the pair at `index` (its handle and, when it has one, its target). Pure.
 * @param {ImagePoint[]} handles
 * @param {ImagePoint[]} targets
 * @param {number} index
 * @returns {{handles: ImagePoint[], targets: ImagePoint[]}}
 */
export function removePointPair(handles, targets, index) {
    return { handles: handles.filter((_, i) => i !== index), targets: targets.filter((_, i) => i !== index) };
}

/**
 * Clamp a point into the image, [0, width] x [0, height] image px.
 * @param {ImagePoint} p image px
 * @param {number} width image px
 * @param {number} height image px
 * @returns {ImagePoint}
 */
export function clampPoint(p, width, height) {
    return { x: clamp(p.x, 0, width), y: clamp(p.y, 0, height) };
}

/**
 * Index of the point nearest to a canvas position, within radiusPx; -1 when none.
 * @param {ImagePoint[]} points image px
 * @param {{x: number, y: number}} pPx canvas px
 * @param {ImageRect} rect
 * @param {{radiusPx?: number}} [opts] canvas px, default 8
 * @returns {number}
 */
export function hitTestPoint(points, pPx, rect, { radiusPx = 8 } = {}) {
    let best = -1, bestDist = radiusPx;
    points.forEach((p, i) => {
        const c = imagePxToCanvas(rect, p.x, p.y);
        const d = Math.hypot(pPx.x - c.x, pPx.y - c.y);
        if (d <= bestDist) {
            best = i;
            bestDist = d;
        }
    });
    return best;
}

/**
 * The handle or target point under a canvas position; the nearer wins, a target on a tie (targets
 * are drawn on top).
 * @param {{handles: ImagePoint[], targets: ImagePoint[]}} points image px
 * @param {{x: number, y: number}} pPx canvas px
 * @param {ImageRect} rect
 * @param {{radiusPx?: number}} [opts] canvas px, default 8
 * @returns {{list: "handles" | "targets", index: number} | null}
 */
export function hitTestDragPoints({ handles, targets }, pPx, rect, opts = {}) {
    const dist = (list, i) => {
        const c = imagePxToCanvas(rect, list[i].x, list[i].y);
        return Math.hypot(pPx.x - c.x, pPx.y - c.y);
    };
    const t = hitTestPoint(targets, pPx, rect, opts);
    const h = hitTestPoint(handles, pPx, rect, opts);
    if (t < 0 && h < 0) return null;
    if (h < 0 || (t >= 0 && dist(targets, t) <= dist(handles, h))) return { list: "targets", index: t };
    return { list: "handles", index: h };
}

// =================================================================================================
// Small helpers
// =================================================================================================

function clamp(v, lo, hi) {
    return Math.min(Math.max(v, lo), hi);
}

function isPlainObject(v) {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v) {
    let s;
    try {
        s = JSON.stringify(v);
    } catch {
        s = undefined;
    }
    if (s === undefined) s = String(v);
    if (typeof v === "number" && !Number.isFinite(v)) s = String(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

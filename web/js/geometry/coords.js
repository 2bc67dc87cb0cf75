// Coordinate transforms between normalized units, image px, canvas px and client (CSS) px.

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

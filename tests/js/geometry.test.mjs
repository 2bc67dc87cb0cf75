// Ellipses, coordinate transforms, hit testing, handles, gestures and edit merging.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
    applyEdits, blobContains, blobEllipse, blobEllipsePx, blobHandles, blobsInBox, canvasToImagePx, canvasToNorm,
    clientToCanvas, covAxes, covFromAxes, covToPixels, ellipseAxes, fitImageRect, GESTURE_SCALE_RANGE, handleAt,
    handleDragEdit, hitTestBlob, hitTestHandles, imagePxToCanvas, isIdentityEdit, mahalanobis2, mergeEdits,
    moveEdits, normToCanvas, pixelDeltaToNorm, pushOrMerge, pushOrMergeMany, reshapeCov, rotateCov, wheelResizeEdits,
    wheelScale,
} from "../../web/js/blob_geometry.js";
import { close, closeDeep, sampleScene } from "./helpers.mjs";

/** Points on an ellipse {cx, cy, rx, ry, angle}. */
function outlinePoints(e, n = 16) {
    const ux = Math.cos(e.angle), uy = Math.sin(e.angle);
    return Array.from({ length: n }, (_, i) => {
        const t = (2 * Math.PI * i) / n;
        const a = e.rx * Math.cos(t), b = e.ry * Math.sin(t);
        return { x: e.cx + a * ux - b * uy, y: e.cy + a * uy + b * ux };
    });
}

/** Implicit value of an ellipse at p: 1 on the outline. */
function ellipseValue(e, p) {
    const dx = p.x - e.cx, dy = p.y - e.cy;
    const u = dx * Math.cos(e.angle) + dy * Math.sin(e.angle);
    const v = -dx * Math.sin(e.angle) + dy * Math.cos(e.angle);
    return (u / e.rx) ** 2 + (v / e.ry) ** 2;
}

const blobAt = (x, y, cov, size = 1, id = 0) => ({ id, x, y, size, cov, color: "#808080" });
const SQUARE = fitImageRect(256, 256, 256, 256); // image drawn 1:1 at the canvas origin
const WIDE = fitImageRect(512, 256, 512, 256); // non-square image, 1:1

describe("covariance algebra and ellipse axes", () => {
    test("axis-aligned covariances: semi-axes sqrt(s * variance), angle of the major axis", () => {
        const horizontal = ellipseAxes([[0.04, 0], [0, 0.01]], 1);
        closeDeep([horizontal.rx, horizontal.ry, horizontal.angle], [0.2, 0.1, 0], 1e-15);
        const bigger = ellipseAxes([[0.04, 0], [0, 0.01]], 4);
        closeDeep([bigger.rx, bigger.ry], [0.4, 0.2], 1e-15);
        const vertical = ellipseAxes([[0.01, 0], [0, 0.04]], 1);
        closeDeep([vertical.rx, vertical.ry, vertical.angle], [0.2, 0.1, Math.PI / 2], 1e-15);
    });

    test("rotated covariances: covAxes inverts covFromAxes, angles measured towards +y", () => {
        for (const angle of [Math.PI / 6, -Math.PI / 3, 1.2, Math.PI / 2]) {
            const axes = covAxes(covFromAxes(angle, 0.03, 0.005));
            closeDeep([axes.angle, axes.major, axes.minor], [angle, 0.03, 0.005], 1e-12, `angle ${angle}`);
        }
        const e = ellipseAxes(covFromAxes(Math.PI / 4, 0.02, 0.005), 2);
        closeDeep([e.rx, e.ry, e.angle], [0.2, 0.1, Math.PI / 4], 1e-12);
    });

    test("the outline is where the Mahalanobis form equals s", () => {
        const blob = blobAt(0.4, 0.6, [[0.005, 0.002], [0.002, 0.003]], 2.5);
        for (const p of outlinePoints(blobEllipse(blob))) {
            close(mahalanobis2(blob.cov, p.x - blob.x, p.y - blob.y), 2.5, 1e-9);
        }
    });

    test("hidden blobs have no outline, or a nominal one flagged hidden", () => {
        assert.equal(ellipseAxes([[0.01, 0], [0, 0.01]], 0), null);
        assert.equal(ellipseAxes([[0.01, 0], [0, 0.01]], -100), null);
        const hidden = blobAt(0.5, 0.5, [[0.01, 0], [0, 0.01]], -100);
        const nominal = blobEllipse(hidden);
        assert.equal(nominal.hidden, true);
        close(nominal.rx, 0.1, 1e-12);
        assert.equal(blobEllipse(hidden, { hiddenSize: null }), null);
        assert.equal(blobEllipse(blobAt(0.5, 0.5, [[0.01, 0], [0, 0.01]], 1)).hidden, false);
    });

    test("rotateCov and reshapeCov are the edit ops' maths", () => {
        closeDeep(rotateCov([[0.04, 0], [0, 0.01]], 90), [[0.01, 0], [0, 0.04]], 1e-15);
        closeDeep(reshapeCov([[0.04, 0], [0, 0.01]], 2), [[0.08, 0], [0, 0.005]], 1e-15);
    });
});

describe("pixel-space ellipses", () => {
    test("on a square image, pixel semi-axes are normalized ones times the displayed size", () => {
        const rect = fitImageRect(256, 256, 400, 400);
        const blob = blobAt(0.5, 0.25, covFromAxes(0.5, 0.02, 0.005), 2);
        const e = blobEllipsePx(blob, rect);
        closeDeep([e.cx, e.cy, e.rx, e.ry, e.angle], [200, 100, 0.2 * 400, 0.1 * 400, 0.5], 1e-9);
    });

    test("on a non-square image, a normalized circle becomes an ellipse", () => {
        const e = blobEllipsePx(blobAt(0.5, 0.5, [[0.01, 0], [0, 0.01]]), WIDE);
        closeDeep([e.cx, e.cy, e.rx, e.ry, e.angle], [256, 128, 51.2, 25.6, 0], 1e-9);
        const tall = blobEllipsePx(blobAt(0.5, 0.5, [[0.01, 0], [0, 0.01]]), fitImageRect(100, 300, 100, 300));
        closeDeep([tall.rx, tall.ry, tall.angle], [30, 10, Math.PI / 2], 1e-9);
    });

    test("on a non-square image, the normalized outline maps exactly onto the pixel ellipse", () => {
        const rect = fitImageRect(320, 200, 500, 500, { x: 7, y: 11 });
        const blob = blobAt(0.3, 0.6, covFromAxes(-0.7, 0.03, 0.004), 1.7);
        const px = blobEllipsePx(blob, rect);
        for (const p of outlinePoints(blobEllipse(blob), 24)) {
            close(ellipseValue(px, normToCanvas(rect, p.x, p.y)), 1, 1e-9);
        }
    });

    test("covToPixels is D Sigma D with D = diag(width, height)", () => {
        closeDeep(covToPixels([[1, 2], [2, 5]], { width: 10, height: 3 }), [[100, 60], [60, 45]], 1e-12);
    });
});

describe("coordinate transforms", () => {
    test("fitImageRect letterboxes and pillarboxes, centred", () => {
        const pillar = fitImageRect(256, 256, 400, 300);
        closeDeep([pillar.x0, pillar.y0, pillar.width, pillar.height, pillar.scale], [50, 0, 300, 300, 300 / 256], 1e-12);
        const letter = fitImageRect(512, 256, 300, 300);
        closeDeep([letter.x0, letter.y0, letter.width, letter.height], [0, 75, 300, 150], 1e-12);
        const padded = fitImageRect(100, 100, 220, 120, { x: 5, y: 6, padding: 10 });
        closeDeep([padded.x0, padded.y0, padded.width, padded.height], [5 + 60, 6 + 10, 100, 100], 1e-12);
        assert.throws(() => fitImageRect(0, 10, 10, 10), /image size must be positive/);
    });

    test("canvas px <-> normalized <-> image px", () => {
        const rect = fitImageRect(512, 256, 300, 300);
        closeDeep(Object.values(canvasToNorm(rect, 0, 75)), [0, 0], 1e-12);
        closeDeep(Object.values(canvasToNorm(rect, 300, 225)), [1, 1], 1e-12);
        closeDeep(Object.values(canvasToImagePx(rect, 300, 225)), [512, 256], 1e-12);
        const p = normToCanvas(rect, 0.3, 0.7);
        closeDeep(Object.values(canvasToNorm(rect, p.x, p.y)), [0.3, 0.7], 1e-12);
        const q = imagePxToCanvas(rect, 100, 40);
        closeDeep(Object.values(canvasToImagePx(rect, q.x, q.y)), [100, 40], 1e-12);
        closeDeep(Object.values(pixelDeltaToNorm(rect, 30, 15)), [0.1, 0.1], 1e-12);
    });

    test("clientToCanvas undoes CSS scaling", () => {
        const bounds = { left: 10, top: 20, width: 200, height: 100 };
        closeDeep(Object.values(clientToCanvas(110, 70, bounds, 400, 200)), [200, 100], 1e-12);
    });
});

describe("hit testing blobs", () => {
    test("the front-most containing blob wins; depth order decides", () => {
        const scene = sampleScene();
        const p = { x: 0.38, y: 0.5 }; // inside blob 0 and blob 1
        assert.ok(blobContains(scene.blobs[0], p) && blobContains(scene.blobs[1], p));
        assert.equal(hitTestBlob(scene, p), 1);
        assert.equal(hitTestBlob(applyEdits(scene, [{ op: "to_back", blob: 1 }]), p), 0);
        assert.equal(hitTestBlob(scene, { x: 0.2, y: 0.5 }), 0);
        assert.equal(hitTestBlob(scene, { x: 0.05, y: 0.05 }), null);
    });

    test("the elongated blob is hit along its major axis but not as far along its minor axis", () => {
        const scene = sampleScene();
        const b = scene.blobs[2], e = blobEllipse(b);
        const along = { x: b.x + 0.9 * e.rx * Math.cos(e.angle), y: b.y + 0.9 * e.rx * Math.sin(e.angle) };
        const across = { x: b.x - 0.9 * e.rx * Math.sin(e.angle), y: b.y + 0.9 * e.rx * Math.cos(e.angle) };
        assert.equal(hitTestBlob(scene, along), 2);
        assert.equal(hitTestBlob(scene, across), null);
    });

    test("hidden blobs are skipped unless asked for", () => {
        const scene = sampleScene();
        assert.equal(hitTestBlob(scene, { x: 0.7, y: 0.8 }), null);
        assert.equal(hitTestBlob(scene, { x: 0.7, y: 0.8 }, { includeHidden: true }), 3);
        assert.equal(hitTestBlob(scene, { x: 0.7, y: 0.8 }, { rect: SQUARE }), null, "no centre fallback to hidden blobs");
    });

    test("outside every outline, the nearest centre within the pick radius (canvas px)", () => {
        const scene = sampleScene();
        scene.blobs[1] = blobAt(0.1, 0.15, [[1e-6, 0], [0, 1e-6]], 1, 1); // 0.26 px across
        const near = { x: 0.1 + 5 / 256, y: 0.15 }, far = { x: 0.1 + 20 / 256, y: 0.15 };
        assert.equal(hitTestBlob(scene, near, { rect: SQUARE }), 1);
        assert.equal(hitTestBlob(scene, far, { rect: SQUARE }), null);
        assert.equal(hitTestBlob(scene, far, { rect: SQUARE, pickRadiusPx: 25 }), 1);
        assert.equal(hitTestBlob(scene, near), null, "no rect, no fallback");
    });

    test("blobsInBox selects by centre, back to front", () => {
        const scene = sampleScene();
        assert.deepEqual(blobsInBox(scene, { x: 0.9, y: 0.9 }, { x: 0.25, y: 0.25 }), [0, 1, 2]);
        assert.deepEqual(blobsInBox(scene, { x: 0.9, y: 0.9 }, { x: 0.25, y: 0.25 }, { includeHidden: true }), [0, 1, 2, 3]);
        assert.deepEqual(blobsInBox(applyEdits(scene, [{ op: "to_back", blob: 2 }]), { x: 0, y: 0 }, { x: 1, y: 1 }), [2, 0, 1]);
    });
});

describe("handles", () => {
    const horizontal = blobAt(0.5, 0.5, [[0.04, 0], [0, 0.01]]); // rx 51.2 px, ry 25.6 px on SQUARE

    test("resize on the major-axis end, aspect on the minor-axis end, rotate beyond the major end", () => {
        const h = blobHandles(horizontal, SQUARE);
        closeDeep([h.center.x, h.center.y], [128, 128], 1e-9);
        closeDeep([h.resize.x, h.resize.y], [179.2, 128], 1e-9);
        closeDeep([h.aspect.x, h.aspect.y], [128, 153.6], 1e-9);
        closeDeep([h.rotate.x, h.rotate.y], [203.2, 128], 1e-9);
        const v = blobHandles(blobAt(0.5, 0.5, [[0.01, 0], [0, 0.04]]), SQUARE);
        closeDeep([v.resize.x, v.resize.y, v.aspect.x, v.aspect.y], [128, 179.2, 102.4, 128], 1e-9);
    });

    test("handles sit on the pixel-space ellipse of a non-square image", () => {
        const blob = blobAt(0.4, 0.5, covFromAxes(0.4, 0.02, 0.006));
        const e = blobEllipsePx(blob, WIDE), h = blobHandles(blob, WIDE);
        close(ellipseValue(e, h.resize), 1, 1e-9, "resize");
        close(ellipseValue(e, h.aspect), 1, 1e-9, "aspect");
    });

    test("tiny blobs keep their handles apart; hidden blobs have none", () => {
        const h = blobHandles(blobAt(0.5, 0.5, [[1e-6, 0], [0, 1e-6]]), SQUARE, { minRadiusPx: 12 });
        closeDeep([h.resize.x - 128, h.aspect.y - 128, h.rotate.x - 128], [12, 12, 36], 1e-9);
        assert.equal(blobHandles(blobAt(0.5, 0.5, [[0.01, 0], [0, 0.01]], -1), SQUARE), null);
        assert.equal(handleAt(blobAt(0.5, 0.5, [[0.01, 0], [0, 0.01]], -1), SQUARE, { x: 128, y: 128 }), null);
    });

    test("handleAt returns the nearest handle within the radius", () => {
        assert.equal(handleAt(horizontal, SQUARE, { x: 179.2, y: 128 }), "resize");
        assert.equal(handleAt(horizontal, SQUARE, { x: 183, y: 131 }), "resize");
        assert.equal(handleAt(horizontal, SQUARE, { x: 200, y: 129 }), "rotate");
        assert.equal(handleAt(horizontal, SQUARE, { x: 126, y: 156 }), "aspect");
        assert.equal(handleAt(horizontal, SQUARE, { x: 150, y: 140 }), null);
        assert.equal(handleAt(horizontal, SQUARE, { x: 190, y: 128 }, { radiusPx: 12 }), "resize", "11 px vs 13 px");
    });

    test("hitTestHandles looks at selected blobs only, front-most first", () => {
        const scene = sampleScene();
        scene.blobs[0] = blobAt(0.5, 0.5, [[0.04, 0], [0, 0.01]], 1, 0);
        scene.blobs[1] = blobAt(0.5, 0.5, [[0.04, 0], [0, 0.01]], 1, 1); // same handles as blob 0
        const p = { x: 179.2, y: 128 };
        assert.deepEqual(hitTestHandles(scene, [0, 1], SQUARE, p), { id: 1, handle: "resize" });
        assert.deepEqual(hitTestHandles(scene, new Set([0]), SQUARE, p), { id: 0, handle: "resize" });
        assert.equal(hitTestHandles(scene, [2], SQUARE, p), null);
    });
});

describe("gestures -> edits", () => {
    const horizontal = blobAt(0.5, 0.5, [[0.04, 0], [0, 0.01]], 1, 0);
    const sceneOf = (blob) => ({ width: 256, height: 256, blobs: [blob], order: [0] });

    test("a drag of the selection gives one move per blob", () => {
        assert.deepEqual(moveEdits([2, 0], 0.1, -0.2), [
            { op: "move", blob: 2, dx: 0.1, dy: -0.2 }, { op: "move", blob: 0, dx: 0.1, dy: -0.2 }]);
    });

    test("wheel up grows, wheel down shrinks, symmetrically; hidden blobs are skipped", () => {
        assert.ok(wheelScale(-100) > 1 && wheelScale(100) < 1);
        close(wheelScale(-100) * wheelScale(100), 1, 1e-15);
        assert.equal(wheelScale(0), 1);
        const edits = wheelResizeEdits(sampleScene(), [1, 3], -100);
        assert.deepEqual(edits, [{ op: "resize", blob: 1, scale: wheelScale(-100) }]);
    });

    test("the resize handle scales the outline by the pointer's distance ratio", () => {
        const h = blobHandles(horizontal, SQUARE);
        const edit = handleDragEdit(horizontal, "resize", h.resize, { x: 128 + 1.5 * 51.2, y: 128 }, SQUARE);
        assert.equal(edit.op, "resize");
        close(edit.scale, 1.5, 1e-12);
        const after = blobEllipsePx(applyEdits(sceneOf(horizontal), [edit]).blobs[0], SQUARE);
        close(after.rx, 1.5 * 51.2, 1e-9);
        const toCentre = handleDragEdit(horizontal, "resize", h.resize, { x: 128, y: 128 }, SQUARE);
        assert.equal(toCentre.scale, GESTURE_SCALE_RANGE[0]);
    });

    test("the aspect handle follows the pointer along the minor axis, keeping the area", () => {
        const h = blobHandles(horizontal, SQUARE);
        const current = { x: 128, y: 128 + 12.8 }; // half the minor semi-axis
        const edit = handleDragEdit(horizontal, "aspect", h.aspect, current, SQUARE);
        assert.equal(edit.op, "reshape");
        close(edit.aspect, 4, 1e-12);
        const moved = blobHandles(applyEdits(sceneOf(horizontal), [edit]).blobs[0], SQUARE).aspect;
        closeDeep([moved.x, moved.y], [current.x, current.y], 1e-9);
    });

    test("the aspect handle stops at a circle, so the major axis stays major", () => {
        const h = blobHandles(horizontal, SQUARE);
        const edit = handleDragEdit(horizontal, "aspect", h.aspect, { x: 128, y: 128 + 3 * 25.6 }, SQUARE);
        const axes = covAxes(applyEdits(sceneOf(horizontal), [edit]).blobs[0].cov);
        close(axes.angle, 0, 1e-12, "angle kept");
        assert.ok(axes.major > axes.minor, "still elongated along x");
        close(axes.major / axes.minor, 1, 2e-3, "about a circle");
    });

    test("the rotate handle turns by the swept angle, clockwise positive, optionally snapped", () => {
        const h = blobHandles(horizontal, SQUARE);
        const below = { x: 128, y: 200 };
        const edit = handleDragEdit(horizontal, "rotate", h.rotate, below, SQUARE);
        assert.deepEqual(edit, { op: "rotate", blob: 0, degrees: 90 });
        close(covAxes(applyEdits(sceneOf(horizontal), [edit]).blobs[0].cov).angle, Math.PI / 2, 1e-12);
        const fifty = { x: 128 + 50 * Math.cos((50 * Math.PI) / 180), y: 128 + 50 * Math.sin((50 * Math.PI) / 180) };
        close(handleDragEdit(horizontal, "rotate", h.rotate, fifty, SQUARE).degrees, 50, 1e-9);
        assert.equal(handleDragEdit(horizontal, "rotate", h.rotate, fifty, SQUARE, { snapDegrees: 15 }).degrees, 45);
        // From 170 deg to -170 deg is +20 deg, not -340.
        const at = (deg) => ({ x: 128 + 40 * Math.cos((deg * Math.PI) / 180), y: 128 + 40 * Math.sin((deg * Math.PI) / 180) });
        close(handleDragEdit(horizontal, "rotate", at(170), at(-170), SQUARE).degrees, 20, 1e-9);
    });

    test("on a non-square image the rotated major axis lies on the pointer's ray", () => {
        const blob = blobAt(0.5, 0.5, [[0.02, 0], [0, 0.002]], 1, 0);
        const start = blobHandles(blob, WIDE).rotate;
        const current = { x: 256 + 60, y: 128 + 60 }; // 45 degrees on screen
        const edit = handleDragEdit(blob, "rotate", start, current, WIDE);
        close(edit.degrees, (Math.atan(2) * 180) / Math.PI, 1e-9, "45 deg on screen is atan(2) in normalized units");
        const rotated = applyEdits(sceneOf(blob), [edit]).blobs[0];
        const { angle } = covAxes(rotated.cov); // normalized major axis direction
        const dirPx = { x: Math.cos(angle) * WIDE.width, y: Math.sin(angle) * WIDE.height };
        close(Math.atan2(dirPx.y, dirPx.x), Math.PI / 4, 1e-9);
    });

    test("an unknown handle is an error", () => {
        assert.throws(() => handleDragEdit(horizontal, "skew", { x: 0, y: 0 }, { x: 1, y: 1 }, SQUARE), /handle must be one of/);
    });
});

describe("merging", () => {
    test("merge rules per op", () => {
        assert.deepEqual(mergeEdits({ op: "move", blob: 1, dx: 0.1, dy: 0.2 }, { op: "move", blob: 1, dx: 0.05, dy: -0.1 }),
            { op: "move", blob: 1, dx: 0.1 + 0.05, dy: 0.2 - 0.1 });
        assert.deepEqual(mergeEdits({ op: "resize", blob: 1, scale: 2 }, { op: "resize", blob: 1, scale: 1.5 }),
            { op: "resize", blob: 1, scale: 3 });
        assert.deepEqual(mergeEdits({ op: "rotate", blob: 1, degrees: 30 }, { op: "rotate", blob: 1, degrees: -45 }),
            { op: "rotate", blob: 1, degrees: -15 });
        assert.deepEqual(mergeEdits({ op: "reshape", blob: 1, aspect: 2 }, { op: "reshape", blob: 1, aspect: 1.5 }),
            { op: "reshape", blob: 1, aspect: 3 });
        assert.deepEqual(mergeEdits({ op: "set_size", blob: 1, size: 2 }, { op: "set_size", blob: 1, size: 3 }),
            { op: "set_size", blob: 1, size: 3 });
        assert.equal(mergeEdits({ op: "move", blob: 1, dx: 0, dy: 0 }, { op: "move", blob: 2, dx: 0, dy: 0 }), null);
        assert.equal(mergeEdits({ op: "move", blob: 1, dx: 0, dy: 0 }, { op: "resize", blob: 1, scale: 2 }), null);
        assert.equal(mergeEdits({ op: "remove", blob: 1 }, { op: "remove", blob: 1 }), null);
        assert.equal(mergeEdits({ op: "duplicate", blob: 1, dx: 0, dy: 0 }, { op: "duplicate", blob: 1, dx: 0, dy: 0 }), null);
    });

    test("pushOrMerge merges into the last edit only, without mutating its input", () => {
        const base = [{ op: "move", blob: 0, dx: 0.1, dy: 0 }];
        const merged = pushOrMerge(base, { op: "move", blob: 0, dx: 0.1, dy: 0.1 });
        assert.deepEqual(merged, [{ op: "move", blob: 0, dx: 0.2, dy: 0.1 }]);
        assert.deepEqual(base, [{ op: "move", blob: 0, dx: 0.1, dy: 0 }]);
        assert.equal(pushOrMerge(base, { op: "move", blob: 1, dx: 0, dy: 0 }).length, 2);
        assert.deepEqual(pushOrMerge([], { op: "remove", blob: 0 }), [{ op: "remove", blob: 0 }]);
    });

    test("pushOrMergeMany merges a same-shaped group element-wise, else appends", () => {
        let edits = [{ op: "remove", blob: 3 }];
        edits = pushOrMergeMany(edits, moveEdits([0, 1], 0.1, 0));
        edits = pushOrMergeMany(edits, moveEdits([0, 1], 0.1, 0.2));
        assert.equal(edits.length, 3);
        closeDeep([edits[1].dx, edits[1].dy, edits[2].dx, edits[2].dy], [0.2, 0.2, 0.2, 0.2], 1e-15);
        assert.equal(pushOrMergeMany(edits, moveEdits([1, 0], 0.1, 0)).length, 5, "other order: appended");
        assert.equal(pushOrMergeMany(edits, moveEdits([1], 0.1, 0)).length, 3, "a one-blob group merges with the last edit");
        assert.deepEqual(pushOrMergeMany(edits, []), edits);
    });

    test("a merged list gives the same geometry as the unmerged one", () => {
        const scene = sampleScene();
        const blob = scene.blobs[2];
        const h = blobHandles(blob, SQUARE);
        // Point a fraction t of the way from the centre to `to`.
        const along = (hs, to, t) => ({ x: hs.center.x + t * (to.x - hs.center.x), y: hs.center.y + t * (to.y - hs.center.y) });
        const r1 = handleDragEdit(blob, "aspect", h.aspect, along(h, h.aspect, 0.9), SQUARE);
        const afterR1 = applyEdits(scene, [r1]).blobs[2];
        const h2 = blobHandles(afterR1, SQUARE);
        // Pull far outwards: clamped at a circle, so the two reshapes still merge exactly.
        const r2 = handleDragEdit(afterR1, "aspect", h2.aspect, along(h2, h2.aspect, 2), SQUARE);
        const sequence = [
            { op: "move", blob: 1, dx: 0.1, dy: 0.02 }, { op: "move", blob: 1, dx: -0.03, dy: 0.05 },
            { op: "resize", blob: 0, scale: 1.2 }, { op: "resize", blob: 0, scale: 0.7 },
            { op: "rotate", blob: 2, degrees: 33 }, { op: "rotate", blob: 2, degrees: 100 },
            r1, r2, { op: "set_size", blob: 3, size: 1 }, { op: "set_size", blob: 3, size: 2 },
        ];
        // r1, r2 were computed on the unrotated blob; reorder so they directly follow each other on it.
        const ordered = [sequence[6], sequence[7], ...sequence.slice(0, 6), ...sequence.slice(8)];
        const merged = ordered.reduce(pushOrMerge, []);
        assert.equal(merged.length, 5);
        const a = applyEdits(scene, ordered), b = applyEdits(scene, merged);
        for (let i = 0; i < a.blobs.length; i++) {
            closeDeep([a.blobs[i].x, a.blobs[i].y, a.blobs[i].size], [b.blobs[i].x, b.blobs[i].y, b.blobs[i].size], 1e-12, `blob ${i}`);
            closeDeep(a.blobs[i].cov, b.blobs[i].cov, 1e-12, `blob ${i} cov`);
        }
    });

    test("a whole drag, recomputed from its start at every pointer move, ends as one edit", () => {
        const input = sampleScene();
        const base = [{ op: "remove", blob: 3 }];
        const start = applyEdits(input, base);
        const h = blobHandles(start.blobs[2], SQUARE);
        let edits = base;
        for (let step = 1; step <= 50; step++) {
            const t = (step / 50) * (Math.PI / 3);
            const r = Math.hypot(h.rotate.x - h.center.x, h.rotate.y - h.center.y);
            const a0 = Math.atan2(h.rotate.y - h.center.y, h.rotate.x - h.center.x);
            const pointer = { x: h.center.x + r * Math.cos(a0 + t), y: h.center.y + r * Math.sin(a0 + t) };
            edits = pushOrMergeMany(base, [handleDragEdit(start.blobs[2], "rotate", h.rotate, pointer, SQUARE)]);
        }
        assert.equal(edits.length, 2);
        close(edits[1].degrees, 60, 1e-9);
    });

    test("isIdentityEdit spots gestures that changed nothing", () => {
        assert.ok(isIdentityEdit({ op: "move", blob: 0, dx: 0, dy: 0 }));
        assert.ok(!isIdentityEdit({ op: "move", blob: 0, dx: 0.01, dy: 0 }));
        assert.ok(isIdentityEdit({ op: "resize", blob: 0, scale: 1 }));
        assert.ok(isIdentityEdit({ op: "reshape", blob: 0, aspect: 1 }));
        assert.ok(isIdentityEdit({ op: "rotate", blob: 0, degrees: 180 }));
        assert.ok(isIdentityEdit({ op: "rotate", blob: 0, degrees: -360 }));
        assert.ok(!isIdentityEdit({ op: "rotate", blob: 0, degrees: 90 }));
        assert.ok(!isIdentityEdit({ op: "remove", blob: 0 }));
    });
});

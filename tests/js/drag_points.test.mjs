// DragGAN points: SAM3-style JSON in image pixels, pairing, hit testing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
    clampPoint, fitImageRect, hitTestDragPoints, hitTestPoint, imagePxToCanvas, nextPointRole, pairPoints,
    parsePoints, removePointPair, serializePoints,
} from "../../web/js/blob_geometry.js";
import { throwsWith } from "./helpers.mjs";

describe("parsePoints / serializePoints", () => {
    test("reads [{x, y}] and [[x, y]]; empty input is no points", () => {
        assert.deepEqual(parsePoints('[{"x": 10, "y": 20}, {"x": 3.5, "y": 0}]'), [{ x: 10, y: 20 }, { x: 3.5, y: 0 }]);
        assert.deepEqual(parsePoints("[[1, 2]]"), [{ x: 1, y: 2 }]);
        for (const s of ["", "  ", "[]", undefined]) assert.deepEqual(parsePoints(s), []);
    });

    test("writes compact JSON in whole pixels by default, round-tripping", () => {
        const text = serializePoints([{ x: 10.4, y: 20.6 }, { x: -0.2, y: 255 }]);
        assert.equal(text, '[{"x":10,"y":21},{"x":0,"y":255}]');
        assert.deepEqual(parsePoints(text), [{ x: 10, y: 21 }, { x: 0, y: 255 }]);
        assert.equal(serializePoints([{ x: 1.23456, y: 2 }], { decimals: 2 }), '[{"x":1.23,"y":2}]');
        assert.equal(serializePoints([]), "[]");
    });

    test("errors name the widget, the point and the expected form", () => {
        throwsWith(() => parsePoints("{", "handles"), "handles: not valid JSON", '[{"x": 10, "y": 20}');
        throwsWith(() => parsePoints('{"x": 1, "y": 2}', "targets"), "targets: expected a JSON list");
        throwsWith(() => parsePoints('[{"x": 1, "y": 2}, {"x": "a", "y": 2}]', "targets"), "targets[1]", '{"x": number, "y": number}');
        throwsWith(() => parsePoints("[[1, 2, 3]]"), "points[0]");
    });
});

describe("pairing", () => {
    const handles = [{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: 3 }];
    const targets = [{ x: 10, y: 10 }, { x: 20, y: 20 }];

    test("pairs by index and returns the surplus apart", () => {
        const { pairs, unpairedHandles, unpairedTargets } = pairPoints(handles, targets);
        assert.deepEqual(pairs, [{ handle: handles[0], target: targets[0] }, { handle: handles[1], target: targets[1] }]);
        assert.deepEqual(unpairedHandles, [handles[2]]);
        assert.deepEqual(unpairedTargets, []);
    });

    test("the next click places a target while a handle waits for one", () => {
        assert.equal(nextPointRole(handles, targets), "target");
        assert.equal(nextPointRole(handles.slice(0, 2), targets), "handle");
        assert.equal(nextPointRole([], []), "handle");
    });

    test("removing a pair drops its handle and its target", () => {
        assert.deepEqual(removePointPair(handles, targets, 0), { handles: handles.slice(1), targets: targets.slice(1) });
        assert.deepEqual(removePointPair(handles, targets, 2), { handles: handles.slice(0, 2), targets });
    });

    test("clampPoint keeps points inside the image", () => {
        assert.deepEqual(clampPoint({ x: -3, y: 300 }, 256, 256), { x: 0, y: 256 });
    });
});

describe("hit testing points", () => {
    const rect = fitImageRect(256, 256, 512, 512); // 2 canvas px per image px
    const handles = [{ x: 50, y: 50 }, { x: 100, y: 100 }];
    const targets = [{ x: 53, y: 50 }, { x: 200, y: 200 }];

    test("hitTestPoint: nearest point within the canvas-px radius", () => {
        assert.equal(hitTestPoint(handles, imagePxToCanvas(rect, 101, 100), rect), 1);
        assert.equal(hitTestPoint(handles, imagePxToCanvas(rect, 105, 100), rect), -1, "5 image px = 10 canvas px");
        assert.equal(hitTestPoint(handles, imagePxToCanvas(rect, 105, 100), rect, { radiusPx: 10 }), 1);
        assert.equal(hitTestPoint([], { x: 0, y: 0 }, rect), -1);
    });

    test("hitTestDragPoints: the nearer of handle and target, targets on ties", () => {
        assert.deepEqual(hitTestDragPoints({ handles, targets }, imagePxToCanvas(rect, 51, 50), rect), { list: "handles", index: 0 });
        assert.deepEqual(hitTestDragPoints({ handles, targets }, imagePxToCanvas(rect, 52.5, 50), rect), { list: "targets", index: 0 });
        assert.deepEqual(hitTestDragPoints({ handles, targets }, imagePxToCanvas(rect, 51.5, 50), rect), { list: "targets", index: 0 });
        assert.deepEqual(hitTestDragPoints({ handles, targets }, imagePxToCanvas(rect, 200, 201), rect), { list: "targets", index: 1 });
        assert.equal(hitTestDragPoints({ handles, targets }, imagePxToCanvas(rect, 150, 150), rect), null);
    });
});

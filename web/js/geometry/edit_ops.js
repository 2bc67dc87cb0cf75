// The edit ops of docs/edit-list.md, one entry each, so that a new op is one entry here (and one in
// blobgan_core/edits.py, which keeps the same registry for the renderer, plus a fixture case that holds
// the two to the same results):
//   fields      field -> kind, in the order the widget serializes them ("op" comes first)
//   defaults    values of the optional fields
//   apply       what the op does to the scene geometry: (blob, edit, scene), mutating the scene; the
//               edit is validated and has its defaults filled in
//   merge       gesture ops: one edit equal to applying `prev` then `next` (same op, same blob)
//   isIdentity  gesture ops: whether an edit changes nothing, so that a gesture ending there is not kept
//   addsBlob    the op appends a blob (the next free id), which later edits may name

import { cloneBlob, REMOVED_SIZE } from "./scene.js";
import { reshapeCov, rotateCov } from "./covariance.js";

/**
 * One edit, e.g. {op: "move", blob: 3, dx: 0.1, dy: 0}. Fields per op as in docs/edit-list.md.
 * @typedef {Object<string, *>} Edit
 */

/** Field kinds: how edit_list.js checks a field's value. */
export const ID = "id", NUM = "number", POS = "positive", BOOL = "bool", SOURCE_ID = "source_id", SCENE = "scene";

/** What `"scene"` of a restyle may name. */
export const RESTYLE_SCENES = ["source", "self"];

/**
 * @typedef {Object} EditOp
 * @property {Object<string, string>} fields
 * @property {Object<string, *>} [defaults]
 * @property {(blob: import("./scene.js").SceneBlob, edit: Edit, scene: import("./scene.js").SceneInfo) => void} apply
 * @property {(prev: Edit, next: Edit) => Edit} [merge]
 * @property {(edit: Edit, tolerance: number) => boolean} [isIdentity]
 * @property {boolean} [addsBlob]
 */

/** @type {Readonly<Object<string, EditOp>>} */
export const OPS = Object.freeze({
    move: {
        fields: { blob: ID, dx: NUM, dy: NUM },
        apply(blob, e) {
            blob.x += e.dx;
            blob.y += e.dy;
        },
        merge: (prev, next) => ({ op: "move", blob: next.blob, dx: prev.dx + next.dx, dy: prev.dy + next.dy }),
        isIdentity: (e, tol) => Math.abs(e.dx) <= tol && Math.abs(e.dy) <= tol,
    },
    resize: {
        fields: { blob: ID, scale: POS },
        apply(blob, e) {
            // A hidden blob stays hidden (revive it with set_size), as in blobgan_core/edits.py.
            if (blob.size > 0) blob.size *= e.scale * e.scale;
        },
        merge: (prev, next) => ({ op: "resize", blob: next.blob, scale: prev.scale * next.scale }),
        isIdentity: (e, tol) => Math.abs(e.scale - 1) <= tol,
    },
    set_size: {
        fields: { blob: ID, size: NUM },
        apply(blob, e) {
            blob.size = e.size;
        },
        merge: (prev, next) => ({ op: "set_size", blob: next.blob, size: next.size }),
    },
    reshape: {
        fields: { blob: ID, aspect: POS },
        apply(blob, e) {
            blob.cov = reshapeCov(blob.cov, e.aspect);
        },
        // Exact while the major axis stays major, which handleDragEdit guarantees.
        merge: (prev, next) => ({ op: "reshape", blob: next.blob, aspect: prev.aspect * next.aspect }),
        isIdentity: (e, tol) => Math.abs(e.aspect - 1) <= tol,
    },
    rotate: {
        fields: { blob: ID, degrees: NUM },
        apply(blob, e) {
            blob.cov = rotateCov(blob.cov, e.degrees);
        },
        merge: (prev, next) => ({ op: "rotate", blob: next.blob, degrees: prev.degrees + next.degrees }),
        isIdentity(e, tol) {
            // An ellipse has 180-degree symmetry.
            const r = ((e.degrees % 180) + 180) % 180;
            return r <= tol || 180 - r <= tol;
        },
    },
    remove: {
        fields: { blob: ID },
        apply(blob) {
            blob.size = REMOVED_SIZE;
        },
    },
    duplicate: {
        fields: { blob: ID, dx: NUM, dy: NUM },
        defaults: { dx: 0, dy: 0 },
        addsBlob: true,
        apply(blob, e, scene) {
            const id = scene.blobs.length;
            const copy = cloneBlob(blob);
            copy.id = id;
            copy.x += e.dx;
            copy.y += e.dy;
            if (scene.palette) copy.color = scene.palette[id % scene.palette.length];
            scene.blobs.push(copy);
            scene.order.push(id);
        },
    },
    restyle: {
        fields: { blob: ID, source_blob: SOURCE_ID, style: BOOL, structure: BOOL, scene: SCENE },
        defaults: { style: true, structure: false, scene: "source" },
        // Features only: the renderer's business, no geometry to change here.
        apply() {},
    },
    forward: {
        fields: { blob: ID },
        apply: (blob, e, scene) => swapDepth(scene, e.blob, +1),
    },
    backward: {
        fields: { blob: ID },
        apply: (blob, e, scene) => swapDepth(scene, e.blob, -1),
    },
    to_front: {
        fields: { blob: ID },
        apply(blob, e, scene) {
            scene.order.splice(scene.order.indexOf(e.blob), 1);
            scene.order.push(e.blob);
        },
    },
    to_back: {
        fields: { blob: ID },
        apply(blob, e, scene) {
            scene.order.splice(scene.order.indexOf(e.blob), 1);
            scene.order.unshift(e.blob);
        },
    },
});

/** The edit ops of docs/edit-list.md. */
export const EDIT_OPS = Object.freeze(Object.keys(OPS));

/**
 * The registry entry of an op, or null for an unknown one (also for names such as "constructor").
 * @param {*} op
 * @returns {EditOp | null}
 */
export function opSpec(op) {
    return typeof op === "string" && Object.hasOwn(OPS, op) ? OPS[op] : null;
}

/** Swap a blob with its neighbour in front (step +1) or behind (-1); nothing at either end. */
function swapDepth(scene, id, step) {
    const at = scene.order.indexOf(id);
    const to = at + step;
    if (to < 0 || to >= scene.order.length) return;
    [scene.order[at], scene.order[to]] = [scene.order[to], scene.order[at]];
}

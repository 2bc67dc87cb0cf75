// The edit list (docs/edit-list.md): checking edits against the ops registry (edit_ops.js) and
// applying them to a scene's geometry.

import {
    BOOL, EDIT_OPS, ID, NUM, OPS, opSpec, POS, RESTYLE_SCENES, SCENE, SOURCE_ID,
} from "./edit_ops.js";
import { cloneScene } from "./scene.js";
import { describe, isPlainObject } from "./util.js";

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
function validateEdit(edit, index, { blobCount, inputBlobCount = blobCount, sourceBlobCount } = {}) {
    if (!isPlainObject(edit)) {
        throw editError(index, null, null,
            `each edit must be an object like {"op": "move", "blob": 0, "dx": 0.1, "dy": 0}; got ${describe(edit)}`);
    }
    const op = edit.op;
    const entry = opSpec(op);
    if (!entry) {
        const what = op === undefined ? 'missing "op"' : `unknown op ${describe(op)}`;
        throw editError(index, null, "op", `${what}; allowed ops: ${EDIT_OPS.join(", ")}`);
    }
    const spec = entry.fields;
    const allowed = ["op", ...Object.keys(spec)].join(", ");
    for (const key of Object.keys(edit)) {
        if (key !== "op" && !Object.hasOwn(spec, key)) {
            throw editError(index, op, key, `unknown field "${key}"; allowed fields: ${allowed}`);
        }
    }
    const out = { op };
    const defaults = entry.defaults ?? {};
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
        if (OPS[checked.op].addsBlob && count !== undefined) count += 1;
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
        OPS[e.op].apply(out.blobs[e.blob], e, out);
    });
    return out;
}

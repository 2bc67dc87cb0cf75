// Serialization and undo history: the edit list as the text the node's widget stores, and undo/redo
// over snapshots of it.

import { OPS, POS } from "./edit_ops.js";
import { EditListError, validateEdits } from "./edit_list.js";

/** Decimals kept for every number written into the edits widget (keeps workflow files tidy). */
const EDIT_DECIMALS = 5;

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
        const spec = OPS[edit.op].fields;
        const keys = ["op", ...Object.keys(spec).filter((k) => Object.hasOwn(edit, k))];
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

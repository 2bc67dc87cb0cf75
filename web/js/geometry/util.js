// Small helpers of the geometry modules (not part of their API).

export function clamp(v, lo, hi) {
    return Math.min(Math.max(v, lo), hi);
}

export function isPlainObject(v) {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function describe(v) {
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

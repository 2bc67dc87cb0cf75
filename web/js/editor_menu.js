// A small right-click menu for the blob editor canvas. Touches the DOM, not ComfyUI. It lives in
// document.body with position: fixed, so the node's own box (and ComfyUI's zoom transform) never
// clips or scales it; it closes on a pick, on Escape, on a click elsewhere and on scroll.

const MENU_CLASS = "blobgan-editor-menu";

/**
 * One entry: a label, an optional key hint, and what a click does. `separator: true` draws a rule.
 * @typedef {{label?: string, hint?: string, action?: () => void, disabled?: boolean, separator?: boolean}} MenuItem
 */

/**
 * Open a menu at client coordinates; returns a function that closes it (idempotent).
 * @param {MenuItem[]} items
 * @param {number} clientX CSS px
 * @param {number} clientY CSS px
 * @param {{onClose?: () => void}} [opts]
 * @returns {() => void}
 */
export function openMenu(items, clientX, clientY, { onClose } = {}) {
    const doc = document;
    const menu = doc.createElement("div");
    menu.className = MENU_CLASS;
    menu.setAttribute("role", "menu");
    Object.assign(menu.style, {
        position: "fixed", zIndex: "100000", minWidth: "190px", padding: "4px 0",
        background: "#262626", color: "#e8e8e8", border: "1px solid #555", borderRadius: "6px",
        boxShadow: "0 6px 18px rgba(0,0,0,0.5)", font: "13px system-ui, sans-serif", userSelect: "none",
    });
    for (const item of items) {
        if (item.separator) {
            const rule = doc.createElement("div");
            Object.assign(rule.style, { height: "1px", margin: "4px 6px", background: "#444" });
            menu.appendChild(rule);
            continue;
        }
        const row = doc.createElement("div");
        row.setAttribute("role", "menuitem");
        row.dataset.label = item.label;
        Object.assign(row.style, {
            display: "flex", justifyContent: "space-between", gap: "18px", padding: "5px 12px",
            cursor: item.disabled ? "default" : "pointer", opacity: item.disabled ? "0.45" : "1",
        });
        const label = doc.createElement("span");
        label.textContent = item.label;
        const hint = doc.createElement("span");
        hint.textContent = item.hint ?? "";
        hint.style.color = "#999";
        row.append(label, hint);
        if (!item.disabled) {
            row.addEventListener("pointerenter", () => { row.style.background = "#3b5b8a"; });
            row.addEventListener("pointerleave", () => { row.style.background = ""; });
            row.addEventListener("click", (e) => {
                e.stopPropagation();
                close();
                item.action?.();
            });
        }
        menu.appendChild(row);
    }
    // Keep pointer events inside the menu away from the graph canvas underneath.
    for (const type of ["pointerdown", "mousedown", "wheel", "contextmenu"]) {
        menu.addEventListener(type, (e) => {
            e.stopPropagation();
            if (type === "contextmenu") e.preventDefault();
        });
    }
    doc.body.appendChild(menu);

    // Keep the menu on screen.
    const box = menu.getBoundingClientRect();
    const vw = doc.documentElement.clientWidth, vh = doc.documentElement.clientHeight;
    menu.style.left = `${Math.max(0, Math.min(clientX, vw - box.width - 2))}px`;
    menu.style.top = `${Math.max(0, Math.min(clientY, vh - box.height - 2))}px`;

    let closed = false;
    const onOutside = (e) => {
        if (!menu.contains(e.target)) close();
    };
    const onKey = (e) => {
        if (e.key === "Escape") {
            e.stopPropagation();
            close();
        }
    };
    function close() {
        if (closed) return;
        closed = true;
        menu.remove();
        doc.removeEventListener("pointerdown", onOutside, true);
        doc.removeEventListener("keydown", onKey, true);
        window.removeEventListener("blur", close);
        window.removeEventListener("wheel", close, true);
        onClose?.();
    }
    doc.addEventListener("keydown", onKey, true);
    window.addEventListener("blur", close);
    // Pointer listeners from the next tick, so the event that opened the menu does not close it.
    setTimeout(() => {
        if (closed) return;
        doc.addEventListener("pointerdown", onOutside, true);
        window.addEventListener("wheel", close, true);
    }, 0);
    return close;
}

// Short notices in the page's aria-live region: other people's changes, and refused actions.

import { h } from "./dom.js";

export const TOAST_MS = 3000;
const ERROR_TOAST_MS = 6000;

export function toast(title, detail = "", { kind = "info" } = {}) {
  const region = document.getElementById("toasts");
  const el = h(
    "div",
    { class: `toast toast-${kind}`, "data-kind": kind },
    h("span", { class: "toast-icon", "aria-hidden": "true" }, kind === "error" ? "!" : "i"),
    h("div", { class: "toast-body" }, h("strong", { class: "toast-title" }, title), detail && h("span", { class: "toast-detail" }, detail)),
  );
  region.append(el);
  setTimeout(() => el.remove(), kind === "error" ? ERROR_TOAST_MS : TOAST_MS);
  return el;
}

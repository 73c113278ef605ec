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

/** Why the server refused an action, as an error toast says it. */
export function refusal(error) {
  if (error.status === 409) {
    const reason = (error.message || "its state changed").replace(/\.$/, "");
    return `${reason.charAt(0).toUpperCase()}${reason.slice(1)}. The board shows where it stands now.`;
  }
  if (error.status === 403) return "Only the task's owner can do that.";
  if (error.status === 404) return error.code === "story_not_found" ? "The story no longer exists." : "The task no longer exists.";
  return error.message;
}

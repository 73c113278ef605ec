// The add-task and edit-task dialog: a modal form with labelled fields, checked before it is sent.

import { h } from "./dom.js";

const MAX_TITLE = 255; // the API's limit: longer titles are refused, so the field stops there
const MAX_HOURS = 40;

/**
 * Open the dialog; resolves with { title, refs, estimate } (refs only when `withRefs`, estimate null when
 * left empty), or null when the user cancels (Cancel, Escape).
 */
export function askTask({ heading, context, submitLabel, initial = {}, withRefs = false }) {
  const id = (name) => `task-dialog-${name}`;
  const field = (name, label, hint, attrs) => {
    const input = h("input", {
      id: id(name),
      name,
      autocomplete: "off",
      "aria-describedby": hint ? id(`${name}-hint`) : null,
      ...attrs,
    });
    return {
      input,
      row: h(
        "div",
        { class: "form-row" },
        h("label", { for: id(name) }, label),
        input,
        hint && h("p", { class: "form-hint", id: id(`${name}-hint`) }, hint),
      ),
    };
  };
  const title = field("title", "Title", null, { type: "text", required: true, maxlength: MAX_TITLE });
  const refs =
    withRefs && field("refs", "Acceptance criteria", "The criteria this task proves, comma-separated: AC1, AC2", { type: "text", required: true });
  const estimate = field("estimate", "Estimate (hours)", `Optional, 1 to ${MAX_HOURS}`, {
    type: "number",
    min: 1,
    max: MAX_HOURS,
    step: 1,
    inputmode: "numeric",
  });
  title.input.value = initial.title || "";
  estimate.input.value = initial.estimate ? String(initial.estimate) : "";
  const error = h("p", { class: "form-error", id: id("error"), role: "alert" });
  const cancel = h("button", { type: "button", class: "btn btn-secondary" }, "Cancel");
  const form = h(
    "form",
    { class: "task-form", novalidate: true },
    h("h2", { id: id("heading") }, heading),
    context && h("p", { class: "muted task-form-context" }, context),
    title.row,
    refs && refs.row,
    estimate.row,
    error,
    h("div", { class: "task-form-actions" }, cancel, h("button", { type: "submit", class: "btn btn-primary" }, submitLabel)),
  );
  const dialog = h("dialog", { class: "task-dialog", "aria-labelledby": id("heading") }, form);
  document.body.append(dialog);

  return new Promise((resolve) => {
    let result = null;
    const invalid = (input, message) => {
      for (const each of form.querySelectorAll("input")) each.removeAttribute("aria-invalid");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-errormessage", id("error"));
      error.textContent = message;
      input.focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = { title: title.input.value.trim(), estimate: null };
      if (!values.title) return invalid(title.input, "Give the task a title.");
      if (refs) {
        values.refs = refs.input.value.split(",").map((ref) => ref.trim()).filter(Boolean);
        if (!values.refs.length) return invalid(refs.input, "Name at least one acceptance criterion, for example AC1.");
      }
      const hours = estimate.input.value.trim();
      if (hours) {
        values.estimate = Number(hours);
        if (!Number.isInteger(values.estimate) || values.estimate < 1 || values.estimate > MAX_HOURS) {
          return invalid(estimate.input, `The estimate is a whole number of hours from 1 to ${MAX_HOURS}.`);
        }
      }
      result = values;
      dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    dialog.showModal();
    title.input.focus();
  });
}

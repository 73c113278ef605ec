// One task card: what the task is, whose it is, and the buttons its owner (or anyone, if free) may press.

import { h, plural } from "./dom.js";
import { initials } from "./presence.js";
import { STATUS_LABELS } from "./store.js";

export const ACTIONS = {
  take: { label: "I'm on it", verb: "take the task", change: (me) => ({ status: "owned", owner_user_id: me }) },
  start: { label: "Start", verb: "start the task", change: () => ({ status: "inprogress" }) },
  complete: { label: "Done it", verb: "complete the task", change: () => ({ status: "completed" }) },
  release: { label: "Give up", verb: "give up the task", change: () => ({ status: "available", owner_user_id: null }) },
};

/** The actions the current user may take on a task, primary first. */
export function actionsFor(task, me) {
  if (task.status === "available") return ["take"];
  if (task.owner_user_id !== me) return [];
  if (task.status === "owned") return ["start", "release"];
  if (task.status === "inprogress") return ["complete", "release"];
  return [];
}

/** Title and estimate may change while the task is free, or by its owner; a completed task is final. */
export function editable(task, me) {
  return !task.placeholder && task.status !== "completed" && (task.owner_user_id === null || task.owner_user_id === me);
}

/**
 * card: { task, me, ownerName, pending, showStory }. ownerName is undefined while the name is looked up.
 */
export function renderCard({ task, me, ownerName, pending, showStory }) {
  const titleId = `task-${task.id}-title`;
  const mine = task.owner_user_id !== null && task.owner_user_id === me;
  const owner = ownerLabel(task, mine, ownerName);
  const refs = (task.acceptance_criteria_refs || []).length;
  const actions = task.placeholder ? [] : actionsFor(task, me);
  const button = (action, label, primary) =>
    h(
      "button",
      {
        type: "button",
        class: `btn ${primary ? "btn-primary" : "btn-secondary"}`,
        "data-action": action,
        "aria-describedby": titleId,
        "aria-disabled": pending ? "true" : null,
      },
      label,
    );
  return h(
    "article",
    {
      class: `card card-${task.status}${mine ? " card-mine" : ""}`,
      "data-task-id": task.id,
      "data-status": task.status,
      "data-version": task.version,
      "data-owner": task.owner_user_id ? (mine ? "me" : "other") : "none",
      "data-pending": pending ? "true" : null,
      "aria-busy": pending ? "true" : null,
      "aria-labelledby": titleId,
      tabindex: "-1",
    },
    h(
      "div",
      { class: "card-top" },
      h("span", { class: `badge badge-${task.status}`, "data-field": "status" }, STATUS_LABELS[task.status] || task.status),
      task.placeholder
        ? h("span", { class: "short-id", "data-field": "short-id" }, "Adding…")
        : h("span", { class: "short-id", title: task.id, "data-field": "short-id" }, `#${task.id.slice(0, 8)}`),
    ),
    h("h3", { class: "card-title", id: titleId }, task.title),
    showStory && h("p", { class: "card-story" }, task.story_title),
    h(
      "div",
      { class: "card-meta" },
      owner &&
        h(
          "span",
          { class: "owner", "data-field": "owner" },
          h("span", { class: "avatar", "aria-hidden": "true" }, ownerInitials(owner)),
          h("span", { class: "visually-hidden" }, "Owner: "),
          owner,
        ),
      h("span", { class: "ac", "data-field": "ac", title: plural(refs, "acceptance criterion", "acceptance criteria") }, `${refs} AC`),
      task.estimated_hours ? h("span", { class: "hours", title: "Estimate" }, `${task.estimated_hours} h`) : null,
    ),
    (task.status === "available" || mine) &&
      h(
        "div",
        { class: "card-flags" },
        task.status === "available" && h("span", { class: "flag flag-free", "data-field": "flag" }, "Available to claim"),
        mine && h("span", { class: "flag flag-mine", "data-field": "flag" }, "My Task"),
      ),
    (actions.length > 0 || editable(task, me)) &&
      h(
        "div",
        { class: "card-actions" },
        actions.map((action, index) => button(action, ACTIONS[action].label, index === 0)),
        editable(task, me) && button("edit", "Edit", false),
      ),
  );
}

function ownerLabel(task, mine, ownerName) {
  if (!task.owner_user_id) return null;
  if (mine) return "You";
  if (ownerName === undefined) return "…";
  return ownerName || "Someone else";
}

function ownerInitials(name) {
  return name === "…" ? "·" : initials(name); // "…": the name is still being looked up
}

// Renders the sprint board: header and stat cards, filters with counts, and the grouped task cards.

import { renderCard } from "./card.js";
import { clear, fromTemplate, h, plural } from "./dom.js";
import { STATUSES, STATUS_LABELS } from "./store.js";

const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });

export class BoardView {
  /** handlers: onAction(taskId, action), onAddTask(story: { id, title }), onFilters({ statuses, groupBy }) */
  constructor(root, handlers) {
    this.root = root;
    this.handlers = handlers;
    this.el = fromTemplate("board-view");
    clear(root).append(this.el);
    this.slot = (name) => this.el.querySelector(`[data-slot="${name}"]`);
    this.field = (name) => this.el.querySelector(`[data-field="${name}"]`);
    this.#wire();
  }

  #wire() {
    this.el.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || !this.el.contains(button)) return;
      if (button.dataset.action === "clear-filters") {
        this.handlers.onFilters({ statuses: new Set() });
        return;
      }
      if (button.dataset.action === "add-task") {
        this.handlers.onAddTask({ id: button.dataset.storyId, title: button.dataset.storyTitle });
        return;
      }
      const card = button.closest("[data-task-id]");
      if (card && button.getAttribute("aria-disabled") !== "true") {
        this.handlers.onAction(card.dataset.taskId, button.dataset.action);
      }
    });
    this.el.addEventListener("change", (event) => {
      const input = event.target;
      if (input.name === "group-by") this.handlers.onFilters({ groupBy: input.value });
      if (input.name === "status-filter") {
        const checked = this.el.querySelectorAll('input[name="status-filter"]:checked');
        this.handlers.onFilters({ statuses: new Set([...checked].map((box) => box.value)) });
      }
    });
  }

  /** state: { store, filters: { statuses: Set, groupBy }, me, ownerName(id) -> string | null | undefined } */
  render(state) {
    const focus = rememberFocus(this.el);
    const tasks = state.store.list();
    this.#header(state.store.sprint, tasks);
    this.#filters(state.filters, state.store.counts());
    const visible = state.filters.statuses.size ? tasks.filter((task) => state.filters.statuses.has(task.status)) : tasks;
    this.field("showing").textContent = `Showing ${visible.length} of ${plural(tasks.length, "task")}`;
    this.#groups(state, tasks, visible);
    restoreFocus(this.el, focus);
  }

  #header(sprint, tasks) {
    const done = tasks.filter((task) => task.status === "completed").length;
    const percent = tasks.length ? (done / tasks.length) * 100 : 0;
    this.field("name").textContent = sprint.name;
    this.field("goal").textContent = sprint.goal || "";
    this.field("dates").textContent = `${dateFormat.format(new Date(sprint.start_date))} – ${dateFormat.format(new Date(sprint.end_date))}`;
    this.field("remaining").textContent = remaining(sprint.days_remaining);
    const stat = (name, value) => (this.el.querySelector(`[data-stat="${name}"]`).textContent = value);
    stat("stories", String(sprint.total_stories));
    stat("tasks", String(tasks.length));
    stat("completed", `${done} of ${tasks.length} tasks`);
    stat("percent", `${Math.round(percent)}%`);
    const bar = this.el.querySelector(".progress");
    bar.setAttribute("aria-valuenow", String(Math.round(percent)));
    bar.setAttribute("aria-valuetext", `${Math.round(percent)}% of tasks done`);
    bar.querySelector(".progress-fill").style.width = `${percent}%`;
  }

  #filters(filters, counts) {
    const slot = this.slot("status-filters");
    if (!slot.children.length) {
      for (const status of STATUSES) {
        slot.append(
          h(
            "label",
            { class: `chip chip-${status}` },
            h("input", { type: "checkbox", name: "status-filter", value: status }),
            h("span", { class: "chip-dot", "aria-hidden": "true" }),
            h("span", { class: "chip-label" }, STATUS_LABELS[status]),
            h("span", { class: "chip-count", "data-count": status }),
          ),
        );
      }
    }
    for (const status of STATUSES) {
      slot.querySelector(`input[value="${status}"]`).checked = filters.statuses.has(status);
      slot.querySelector(`[data-count="${status}"]`).textContent = String(counts[status] || 0);
    }
    this.el.querySelector('[data-action="clear-filters"]').disabled = filters.statuses.size === 0;
    for (const radio of this.el.querySelectorAll('input[name="group-by"]')) radio.checked = radio.value === filters.groupBy;
  }

  #groups(state, tasks, visible) {
    const slot = clear(this.slot("groups"));
    const byStatus = state.filters.groupBy === "status";
    slot.classList.toggle("groups-columns", byStatus);
    slot.dataset.groupBy = state.filters.groupBy;
    if (!tasks.length) {
      slot.append(emptyState("No tasks in this sprint yet", "Tasks added to the sprint's stories show up here as soon as they are created."));
      return;
    }
    if (!visible.length) {
      slot.append(
        emptyState(
          "No tasks match these filters",
          "Try another status, or clear the filters to see every task.",
          h("button", { type: "button", class: "btn btn-secondary", "data-action": "clear-filters" }, "Clear filters"),
        ),
      );
      return;
    }
    for (const group of groupTasks(visible, byStatus)) {
      const headingId = `group-${group.key}`;
      slot.append(
        h(
          "section",
          { class: `group${byStatus ? ` group-${group.key}` : ""}`, "data-group": group.key, "aria-labelledby": headingId },
          h(
            "header",
            { class: "group-header" },
            h("h2", { id: headingId, class: "group-title" }, group.title),
            h(
              "span",
              { class: "group-count" },
              String(group.tasks.length),
              h("span", { class: "visually-hidden" }, group.tasks.length === 1 ? " task" : " tasks"),
            ),
            !byStatus &&
              h(
                "button",
                {
                  type: "button",
                  class: "btn btn-quiet btn-add",
                  "data-action": "add-task",
                  "data-story-id": group.key,
                  "data-story-title": group.title,
                  "aria-describedby": headingId,
                },
                "Add task",
              ),
          ),
          h(
            "div",
            { class: "cards" },
            group.tasks.map((task) =>
              renderCard({
                task,
                me: state.me,
                ownerName: task.owner_user_id ? state.ownerName(task.owner_user_id) : null,
                pending: state.store.pending(task.id),
                showStory: byStatus,
              }),
            ),
          ),
        ),
      );
    }
  }
}

function groupTasks(tasks, byStatus) {
  if (byStatus) {
    return STATUSES.map((status) => ({
      key: status,
      title: STATUS_LABELS[status],
      tasks: tasks.filter((task) => task.status === status),
    })).filter((group) => group.tasks.length);
  }
  const groups = new Map();
  for (const task of tasks) {
    if (!groups.has(task.story_id)) groups.set(task.story_id, { key: task.story_id, title: task.story_title, tasks: [] });
    groups.get(task.story_id).tasks.push(task);
  }
  return [...groups.values()];
}

function remaining(days) {
  if (days === null || days === undefined) return "";
  if (days <= 0) return "Ends today";
  return `${plural(days, "day")} remaining`;
}

function emptyState(title, text, action = null) {
  return h("div", { class: "empty-state", "data-empty": "true" }, h("h2", {}, title), h("p", {}, text), action);
}

/** Re-rendering replaces cards: remember the focused button by task (or story) and action, to put focus back. */
function rememberFocus(root) {
  const active = document.activeElement;
  if (!active || !root.contains(active)) return null;
  if (active.dataset.action === "add-task") return { storyId: active.dataset.storyId };
  const card = active.closest("[data-task-id]");
  if (!card) return null;
  return { taskId: card.dataset.taskId, action: active.dataset.action || null };
}

function restoreFocus(root, focus) {
  if (!focus || root.contains(document.activeElement)) return;
  if (focus.storyId) {
    root.querySelector(`button[data-action="add-task"][data-story-id="${CSS.escape(focus.storyId)}"]`)?.focus();
    return;
  }
  const card = root.querySelector(`[data-task-id="${CSS.escape(focus.taskId)}"]`);
  if (!card) return;
  const target =
    (focus.action && card.querySelector(`button[data-action="${focus.action}"]`)) || card.querySelector("button[data-action]") || card;
  target.focus();
}

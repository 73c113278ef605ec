// The board page's controller: the socket, then the snapshot; live events, optimistic actions and their toasts.

import { api, session, userName } from "./api.js";
import { BoardView } from "./board-view.js";
import { ACTIONS } from "./card.js";
import { clear, h } from "./dom.js";
import { addTask, editTask } from "./editing.js";
import { LiveFeed, socketUrl } from "./live.js";
import { BoardStore, STATUSES, STATUS_LABELS } from "./store.js";
import { refusal, toast } from "./toast.js";

export class BoardPage {
  /** options: the page's config, the sprint's id, onUser(me) once the user is known, onUnauthorized() on a refused token */
  constructor(root, { config, sprintId, onUser, onUnauthorized }) {
    this.root = root;
    this.config = config;
    this.sprintId = sprintId;
    this.onUser = onUser;
    this.onUnauthorized = onUnauthorized;
    this.store = new BoardStore();
    this.filters = readFilters();
    this.indicator = document.getElementById("connection");
    this.refetching = null;
    this.refetchAgain = false;
    this.names = new Map();
    this.updateToasts = new Map(); // task id -> its "Task updated" toast
  }

  async open() {
    this.view = new BoardView(this.root, {
      onAction: (taskId, action) => (action === "edit" ? editTask(this, taskId) : this.act(taskId, action)),
      onAddTask: (story) => addTask(this, story),
      onFilters: (change) => this.setFilters(change),
    });
    this.view.el.hidden = true;
    this.root.append(h("p", { class: "loading", role: "status" }, "Loading the board…"));
    this.me = await api.me();
    this.onUser(this.me);
    // The socket first, then the snapshot: events from the moment the socket listens are buffered in the store.
    this.feed = new LiveFeed({
      url: socketUrl(this.config.notifier_url, this.me.tenant_id),
      token: session.token,
      sprintId: this.sprintId,
      onEvents: (events) => this.applyEvents(events),
      onState: (state) => this.showConnection(state),
      onSubscribed: ({ resumed }) => {
        if (!resumed && this.store.loaded) this.refetch(); // listening again without a resume: catch up
      },
      onResync: () => this.refetch(),
      onUnauthorized: () => this.onUnauthorized(),
    });
    await this.feed.start();
    try {
      this.loaded(await api.board(this.sprintId));
    } catch (error) {
      this.failed(error);
    }
  }

  loaded(board) {
    const { applied } = this.store.load(board);
    document.title = `${board.sprint.name} · Sprintboard`;
    this.root.querySelector(".loading")?.remove();
    this.view.el.hidden = false;
    this.render();
    this.announce(applied);
  }

  failed(error) {
    this.feed.stop();
    const text = error.status === 404 ? "This sprint does not exist, or it belongs to another team." : error.message;
    clear(this.root).append(
      h(
        "div",
        { class: "empty-state", role: "alert" },
        h("h1", {}, "The board could not be loaded"),
        h("p", {}, text),
        h("a", { class: "btn btn-secondary", href: "/signin" }, "Choose a sprint"),
      ),
    );
  }

  render() {
    if (!this.store.loaded) return;
    this.view.render({
      store: this.store,
      filters: this.filters,
      me: this.me.id,
      ownerName: (id) => this.ownerName(id),
    });
  }

  /** The owner's name, undefined while it is looked up (the card shows an ellipsis meanwhile). */
  ownerName(id) {
    if (this.names.has(id)) return this.names.get(id);
    this.names.set(id, undefined);
    userName(id).then((name) => {
      this.names.set(id, name);
      this.render();
    });
    return undefined;
  }

  setFilters(change) {
    this.filters = { ...this.filters, ...change };
    writeFilters(this.filters);
    this.render();
  }

  showConnection(state) {
    this.indicator.hidden = false;
    this.indicator.dataset.connection = state;
    const labels = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…" };
    this.indicator.querySelector(".connection-label").textContent = labels[state];
  }

  applyEvents(events) {
    const { applied, refetch } = this.store.apply(events);
    if (applied.length) this.render();
    if (refetch) this.refetch();
    this.announce(applied);
  }

  /** Reload the snapshot; merges by version, so events that arrive meanwhile are never undone. */
  async refetch() {
    if (this.refetching) {
      this.refetchAgain = true;
      return this.refetching;
    }
    this.refetching = (async () => {
      do {
        this.refetchAgain = false;
        try {
          const board = await api.board(this.sprintId);
          const { applied } = this.store.load(board);
          this.render();
          this.announce(applied);
        } catch (error) {
          console.warn("board reload failed:", error.message);
        }
      } while (this.refetchAgain);
      this.refetching = null;
    })();
    return this.refetching;
  }

  act(taskId, action) {
    const spec = ACTIONS[action];
    if (!spec || this.store.pending(taskId)) return;
    return this.optimistic(taskId, spec.change(this.me.id), spec.verb, async () => (await api[action](taskId)).task);
  }

  /** Apply `change` to the card at once; `run` asks the server (its task settles the card) or throws (roll back). */
  async optimistic(taskId, change, verb, run) {
    this.store.begin(taskId, change);
    this.render();
    try {
      this.store.settle(taskId, await run());
      this.render();
    } catch (error) {
      this.store.settle(taskId, null);
      this.render();
      toast(`Could not ${verb}`, refusal(error), { kind: "error" });
      if (error.status !== 0) this.refetch(); // show what changed meanwhile
    }
  }

  /** A toast for other people's changes, not for the echo of one's own. */
  async announce(applied) {
    const others = applied.filter(({ event }) => event.actor_user_id !== this.me.id);
    if (others.length > 3) {
      toast("Board updated", `${others.length} changes by your team`);
      return;
    }
    for (const { event, task } of others) {
      const title = event.title || task?.title || "A task"; // a task_updated event carries the new title
      if (event.type === "ownership_taken") {
        const name = event.owner_user_id === this.me.id ? "You" : (await userName(event.owner_user_id)) || "Someone";
        toast("Task claimed", `${name} took “${title}”`);
      } else if (event.type === "ownership_released") toast("Task released", `“${title}” is available again`);
      else if (event.type === "status_changed") {
        toast("Task status updated", `“${title}” is now ${STATUS_LABELS[event.new_status || event.status] || event.status}`);
      } else if (event.type === "task_created") toast("New task", `“${title}”`);
      else if (event.type === "task_updated" && !this.updateToasts.get(event.task_id)?.isConnected) {
        // One toast per edit while it shows: a title and an estimate changed together are two events.
        this.updateToasts.set(event.task_id, toast("Task updated", `“${title}”`));
      }
    }
  }
}

function readFilters() {
  const query = new URLSearchParams(location.search);
  const statuses = (query.get("status") || "").split(",").filter((status) => STATUSES.includes(status));
  return { statuses: new Set(statuses), groupBy: query.get("groupBy") === "status" ? "status" : "story" };
}

function writeFilters(filters) {
  const query = new URLSearchParams();
  if (filters.statuses.size) query.set("status", STATUSES.filter((s) => filters.statuses.has(s)).join(","));
  if (filters.groupBy === "status") query.set("groupBy", "status");
  const search = query.toString();
  history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
}

// The board's state: the last snapshot merged with live events by task version, plus optimistic changes.

export const STATUSES = ["available", "owned", "inprogress", "completed"];

export const STATUS_LABELS = {
  available: "Available",
  owned: "Owned",
  inprogress: "In progress",
  completed: "Completed",
};

const OWNER_EVENTS = new Set(["ownership_taken", "ownership_released", "status_changed"]);

/** Pure (no DOM, no I/O). Tasks, events and the sprint are kept as the wire's JSON, in snake_case. */
export class BoardStore {
  constructor() {
    this.sprint = null;
    this.tasks = new Map(); // id -> task as the server last told us
    this.order = []; // ids in the board's order: by story, then creation
    this.optimistic = new Map(); // id -> task as the user's pending action will leave it
    this.adding = new Map(); // placeholder id -> the task the user is adding, until the snapshot has it
    this.loaded = false;
    this.buffered = [];
  }

  /**
   * Take a board snapshot. A task the page already knows at a newer version (an event that overtook the
   * snapshot) keeps that version. Returns what the buffered events did, as `apply` does.
   */
  load(board) {
    const tasks = new Map();
    for (const task of board.tasks) {
      const known = this.tasks.get(task.id);
      tasks.set(task.id, known && known.version > task.version ? { ...task, ...pick(known) } : task);
    }
    // A task being added is in the snapshot before its POST answers (the add's own event, say): one card.
    const arrived = board.tasks.filter((task) => !this.tasks.has(task.id));
    for (const [id, added] of this.adding) {
      if (arrived.some((task) => task.story_id === added.story_id && task.title === added.title)) this.adding.delete(id);
    }
    this.sprint = board.sprint;
    this.tasks = tasks;
    this.order = board.tasks.map((task) => task.id);
    for (const id of this.optimistic.keys()) if (!tasks.has(id)) this.optimistic.delete(id);
    this.loaded = true;
    const buffered = this.buffered;
    this.buffered = [];
    return this.apply(buffered);
  }

  /**
   * Apply live events; only one newer than the card's version changes it. Before the first snapshot they
   * wait. Returns { applied: [{event, task}], refetch } — refetch when the page cannot apply an event itself.
   */
  apply(events) {
    if (!this.loaded) {
      this.buffered.push(...events);
      return { applied: [], refetch: false };
    }
    const applied = [];
    let refetch = false;
    for (const event of events) {
      const task = this.tasks.get(event.task_id);
      if (!task) {
        refetch = true; // a new task, or one the snapshot did not have yet
        applied.push({ event, task: null });
        continue;
      }
      if (!(event.task_version > task.version)) continue;
      if (event.task_version > task.version + 1) refetch = true; // a version we never saw: check the rest
      if (!OWNER_EVENTS.has(event.type)) {
        refetch = true; // task_updated and the like carry fields the page shows: reload them
        applied.push({ event, task });
        continue;
      }
      const next = { ...task, status: event.status, version: event.task_version };
      if (event.type === "ownership_taken") next.owner_user_id = event.owner_user_id;
      if (event.type === "ownership_released") next.owner_user_id = null;
      this.tasks.set(task.id, next);
      applied.push({ event, task: next });
    }
    return { applied, refetch };
  }

  /** Show a user's action at once; `settle` ends it with the server's answer (or without, to roll back). */
  begin(id, change) {
    const task = this.view(id);
    this.optimistic.set(id, { ...task, ...change });
  }

  settle(id, serverTask) {
    this.optimistic.delete(id);
    const task = this.tasks.get(id);
    if (task && serverTask && serverTask.version > task.version) {
      this.tasks.set(id, {
        ...task,
        title: serverTask.title,
        status: serverTask.status,
        owner_user_id: serverTask.owner_user_id ?? null,
        estimated_hours: serverTask.estimated_hours ?? null,
        version: serverTask.version,
      });
    }
  }

  pending(id) {
    return this.optimistic.has(id) || this.adding.has(id);
  }

  /** Show a task being added at once, at the end of its story's group; returns its placeholder id. */
  beginAdd(key, fields) {
    const id = `new-${key}`;
    this.adding.set(id, { id, status: "available", owner_user_id: null, version: 0, placeholder: true, ...fields });
    return id;
  }

  /** The add ended: refused (the placeholder goes) or done (the snapshot that has the task replaces it). */
  settleAdd(id) {
    this.adding.delete(id);
  }

  view(id) {
    return this.optimistic.get(id) || this.tasks.get(id);
  }

  list() {
    const tasks = this.order.map((id) => this.view(id)).filter(Boolean);
    for (const added of this.adding.values()) {
      const after = tasks.findLastIndex((task) => task.story_id === added.story_id);
      tasks.splice(after < 0 ? tasks.length : after + 1, 0, added);
    }
    return tasks;
  }

  counts() {
    const counts = Object.fromEntries(STATUSES.map((status) => [status, 0]));
    for (const task of this.list()) counts[task.status] = (counts[task.status] || 0) + 1;
    return counts;
  }
}

function pick(task) {
  return { status: task.status, owner_user_id: task.owner_user_id, version: task.version };
}

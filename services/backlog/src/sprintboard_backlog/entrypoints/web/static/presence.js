// Who else has this sprint's board open: the notifier's `presence` and `presence_diff` frames, kept per user.
// Pure (no DOM): presence-list.js draws it. `initials` is also the task cards' owner avatar.

export class Roster {
  constructor() {
    this.users = new Map(); // user_id -> name
  }

  /** A `presence` frame (after every subscribe, so also after a reconnect): the whole list. */
  reset(users) {
    this.users = new Map((users || []).map((u) => [u.user_id, u.name]));
  }

  /** A `presence_diff` frame: leaves, then joins (a join is an upsert: a new name is a join). */
  apply({ joins = [], leaves = [] }) {
    for (const u of leaves) this.users.delete(u.user_id);
    for (const u of joins) this.users.set(u.user_id, u.name);
  }

  /** Everyone but `me`, by name (then id, so equal names keep one order on every board). */
  others(me) {
    return [...this.users]
      .filter(([id]) => id !== me)
      .map(([id, name]) => ({ id, name: name || "Someone" }))
      .sort((a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/** Up to two letters: the first of the first and last words ("Ann Baker" → "AB", "ann" → "A"). */
export function initials(name) {
  const words = String(name || "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const first = [...words[0]][0];
  const last = words.length > 1 ? [...words[words.length - 1]][0] : "";
  return (first + last).toUpperCase();
}

/** A stable colour index per user, so an avatar keeps its colour across reloads and boards. */
export function hue(id, count = 6) {
  let hash = 0;
  for (const ch of String(id)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % count;
}

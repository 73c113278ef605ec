// The avatars of the other people viewing the board, next to the connection indicator (spec §5).

import { clear, h } from "./dom.js";
import { hue, initials, Roster } from "./presence.js";

const SHOWN = 5; // more than this: the rest are one "+N" avatar, their names in its label

export class PresenceList {
  constructor(el, me) {
    this.el = el; // <ul aria-label="People viewing this board">
    this.me = me;
    this.roster = new Roster();
  }

  onFrame(frame) {
    if (frame.type === "presence") this.roster.reset(frame.users);
    else if (frame.type === "presence_diff") this.roster.apply(frame);
    this.render();
  }

  /** While the socket is away the list may be out of date: it stays, dimmed. */
  stale(stale) {
    this.el.classList.toggle("stale", stale);
  }

  render() {
    const others = this.roster.others(this.me);
    this.el.hidden = others.length === 0;
    const shown = others.length > SHOWN ? others.slice(0, SHOWN - 1) : others;
    const rest = others.slice(shown.length);
    const items = shown.map((user) => avatar(initials(user.name), user.name, `viewer-${hue(user.id)}`, user.id));
    if (rest.length) items.push(avatar(`+${rest.length}`, rest.map((u) => u.name).join(", "), "viewer-more"));
    clear(this.el).append(...items);
  }
}

function avatar(text, name, kind, id) {
  // Focusable, so a keyboard user can reach each name (shown on focus as on hover); read as the name.
  return h(
    "li",
    { class: `viewer ${kind}`, title: name, tabindex: "0", "data-user-id": id },
    h("span", { "aria-hidden": "true" }, text),
    h("span", { class: "visually-hidden" }, name),
  );
}

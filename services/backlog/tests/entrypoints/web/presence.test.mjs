// Unit tests of the board's presence roster (static/presence.js): frames in, the other viewers out.

import assert from "node:assert/strict";
import { test } from "node:test";

import { hue, initials, Roster } from "../../../src/sprintboard_backlog/entrypoints/web/static/presence.js";

const ME = "u-me";

test("a presence frame is the whole list; the user themself is not among the others", () => {
  const roster = new Roster();
  roster.reset([
    { user_id: "u-bob", name: "Bob" },
    { user_id: ME, name: "Me" },
    { user_id: "u-ann", name: "Ann" },
  ]);
  assert.deepEqual(roster.others(ME), [
    { id: "u-ann", name: "Ann" },
    { id: "u-bob", name: "Bob" },
  ]);
  roster.reset([{ user_id: "u-cat", name: "Cat" }]); // after a reconnect: replaced, not merged
  assert.deepEqual(roster.others(ME), [{ id: "u-cat", name: "Cat" }]);
});

test("a diff removes its leaves and upserts its joins", () => {
  const roster = new Roster();
  roster.reset([{ user_id: "u-ann", name: "Ann" }]);
  roster.apply({ joins: [{ user_id: "u-bob", name: "Bob" }, { user_id: "u-ann", name: "Ann Baker" }], leaves: [] });
  assert.deepEqual(roster.others(ME).map((u) => u.name), ["Ann Baker", "Bob"]);
  roster.apply({ joins: [], leaves: [{ user_id: "u-ann", name: "Ann Baker" }] });
  assert.deepEqual(roster.others(ME), [{ id: "u-bob", name: "Bob" }]);
  roster.apply({ leaves: [{ user_id: "u-nobody" }] }); // unknown leave, missing joins: harmless
  assert.equal(roster.others(ME).length, 1);
});

test("equal names keep one order on every board", () => {
  const roster = new Roster();
  roster.reset([{ user_id: "b", name: "Sam" }, { user_id: "a", name: "Sam" }]);
  assert.deepEqual(roster.others(ME).map((u) => u.id), ["a", "b"]);
});

test("initials: first letters of the first and last words", () => {
  assert.equal(initials("Ann Baker"), "AB");
  assert.equal(initials("  ann   marie  baker "), "AB");
  assert.equal(initials("alice"), "A");
  assert.equal(initials("Émile Zola"), "ÉZ");
  assert.equal(initials(""), "?");
  assert.equal(initials(undefined), "?");
});

test("a user's colour is stable and in range", () => {
  assert.equal(hue("u-ann"), hue("u-ann"));
  for (const id of ["a", "b", "c", "6f1c3f4e-0b5a-5d7e-9a3c-5b0a7d0c0717"]) assert.ok(hue(id) >= 0 && hue(id) < 6);
});

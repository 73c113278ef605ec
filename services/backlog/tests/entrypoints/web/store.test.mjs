// Unit tests of the board's state (static/store.js): snapshot and events merged by version, optimistic changes.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { BoardStore } from "../../../src/sprintboard_backlog/entrypoints/web/static/store.js";

const ME = "00000000-0000-4000-8000-00000000000a";
const BOB = "00000000-0000-4000-8000-00000000000b";
const STORY_A = "00000000-0000-4000-8000-0000000000a1";
const STORY_B = "00000000-0000-4000-8000-0000000000b1";

/** A board task as `api.board` hands it to the store (snake_case). */
function task(id, fields = {}) {
  return {
    id,
    story_id: STORY_A,
    story_title: "Story A",
    title: `Task ${id}`,
    status: "available",
    owner_user_id: null,
    acceptance_criteria_refs: ["AC1"],
    estimated_hours: null,
    version: 1,
    ...fields,
  };
}

function board(...tasks) {
  return { sprint: { id: "s", name: "Sprint 1" }, tasks, groups: {} };
}

/** A live event as live.js hands it on (snake_case, as on the wire). */
function event(type, taskId, taskVersion, fields = {}) {
  const status = { ownership_taken: "owned", ownership_released: "available" }[type] ?? "inprogress";
  return { type, task_id: taskId, task_version: taskVersion, status, actor_user_id: BOB, ...fields };
}

function loaded(...tasks) {
  const store = new BoardStore();
  store.load(board(...tasks));
  return store;
}

const ids = (store) => store.list().map((each) => each.id);

describe("load", () => {
  test("keeps the snapshot's tasks in its order, and its sprint", () => {
    const store = loaded(task("t2"), task("t1"), task("t3"));
    assert.equal(store.loaded, true);
    assert.equal(store.sprint.name, "Sprint 1");
    assert.deepEqual(ids(store), ["t2", "t1", "t3"]);
    assert.equal(store.view("t1").title, "Task t1");
  });

  test("a task the page knows at a newer version keeps that version's status and owner", () => {
    const store = loaded(task("t1"));
    store.apply([event("ownership_taken", "t1", 2, { owner_user_id: BOB })]);
    const { applied } = store.load(board(task("t1", { title: "Renamed", version: 1 })));
    assert.deepEqual(applied, []);
    const now = store.view("t1");
    assert.equal(now.version, 2);
    assert.equal(now.status, "owned");
    assert.equal(now.owner_user_id, BOB);
    assert.equal(now.title, "Renamed"); // the rest comes from the snapshot
  });

  test("a newer snapshot replaces an older known version", () => {
    const store = loaded(task("t1"));
    store.load(board(task("t1", { status: "completed", owner_user_id: BOB, version: 5 })));
    assert.equal(store.view("t1").status, "completed");
    assert.equal(store.view("t1").version, 5);
  });

  test("a task gone from the snapshot leaves the board", () => {
    const store = loaded(task("t1"), task("t2"));
    store.begin("t2", { status: "owned", owner_user_id: ME });
    store.load(board(task("t1")));
    assert.deepEqual(ids(store), ["t1"]);
    assert.equal(store.pending("t2"), false);
  });
});

describe("apply", () => {
  test("events before the first snapshot wait for it, then apply in the order they came", () => {
    const store = new BoardStore();
    const taken = event("ownership_taken", "t1", 2, { owner_user_id: BOB });
    const started = event("status_changed", "t1", 3, { new_status: "inprogress" });
    assert.deepEqual(store.apply([taken]), { applied: [], refetch: false });
    assert.deepEqual(store.apply([started]), { applied: [], refetch: false });
    const { applied, refetch } = store.load(board(task("t1")));
    assert.equal(refetch, false);
    assert.deepEqual(
      applied.map(({ event: each }) => each.task_version),
      [2, 3],
    );
    assert.equal(store.view("t1").status, "inprogress");
    assert.equal(store.view("t1").owner_user_id, BOB);
    assert.equal(store.view("t1").version, 3);
    assert.deepEqual(store.buffered, []);
  });

  test("ownership_taken sets the owner, status and version", () => {
    const store = loaded(task("t1"));
    const taken = event("ownership_taken", "t1", 2, { owner_user_id: BOB });
    const { applied, refetch } = store.apply([taken]);
    assert.equal(refetch, false);
    assert.equal(applied.length, 1);
    assert.equal(applied[0].event, taken);
    assert.deepEqual(applied[0].task, { ...task("t1"), status: "owned", owner_user_id: BOB, version: 2 });
    assert.deepEqual(store.view("t1"), applied[0].task);
  });

  test("ownership_released clears the owner", () => {
    const store = loaded(task("t1", { status: "owned", owner_user_id: BOB, version: 4 }));
    store.apply([event("ownership_released", "t1", 5, { previous_owner_user_id: BOB })]);
    assert.equal(store.view("t1").owner_user_id, null);
    assert.equal(store.view("t1").status, "available");
  });

  test("status_changed keeps the owner and takes the event's status", () => {
    const store = loaded(task("t1", { status: "owned", owner_user_id: BOB, version: 2 }));
    store.apply([event("status_changed", "t1", 3, { status: "completed", new_status: "completed" })]);
    assert.equal(store.view("t1").status, "completed");
    assert.equal(store.view("t1").owner_user_id, BOB);
  });

  test("an event not newer than the card changes nothing and is not announced", () => {
    const store = loaded(task("t1", { status: "owned", owner_user_id: BOB, version: 3 }));
    for (const version of [2, 3]) {
      const { applied, refetch } = store.apply([event("ownership_released", "t1", version)]);
      assert.deepEqual(applied, []);
      assert.equal(refetch, false);
    }
    assert.equal(store.view("t1").owner_user_id, BOB);
    assert.equal(store.view("t1").version, 3);
  });

  test("events of one batch apply in order: the later one wins, a repeated one is skipped", () => {
    const store = loaded(task("t1"));
    const { applied } = store.apply([
      event("ownership_taken", "t1", 2, { owner_user_id: BOB }),
      event("ownership_released", "t1", 3),
      event("ownership_taken", "t1", 3, { owner_user_id: BOB }),
    ]);
    assert.deepEqual(
      applied.map(({ event: each }) => each.type),
      ["ownership_taken", "ownership_released"],
    );
    assert.equal(store.view("t1").owner_user_id, null);
    assert.equal(store.view("t1").version, 3);
  });

  test("a version that skips one applies and asks for a reload", () => {
    const store = loaded(task("t1"));
    const { applied, refetch } = store.apply([event("ownership_taken", "t1", 3, { owner_user_id: BOB })]);
    assert.equal(refetch, true);
    assert.equal(applied.length, 1);
    assert.equal(store.view("t1").version, 3);
  });

  test("an unknown task asks for a reload and is announced without a task", () => {
    const store = loaded(task("t1"));
    const created = event("task_created", "t9", 1, { status: "available", title: "New" });
    const { applied, refetch } = store.apply([created]);
    assert.equal(refetch, true);
    assert.deepEqual(applied, [{ event: created, task: null }]);
    assert.deepEqual(ids(store), ["t1"]);
  });

  test("task_updated asks for a reload and leaves the card as it is", () => {
    const store = loaded(task("t1"));
    const { applied, refetch } = store.apply([event("task_updated", "t1", 2, { status: "available", title: "New title" })]);
    assert.equal(refetch, true);
    assert.equal(applied.length, 1);
    assert.equal(store.view("t1").title, "Task t1");
    assert.equal(store.view("t1").version, 1);
  });
});

describe("optimistic changes", () => {
  test("begin shows the change at once, apart from the server's task", () => {
    const store = loaded(task("t1"));
    store.begin("t1", { status: "owned", owner_user_id: ME });
    assert.equal(store.pending("t1"), true);
    assert.equal(store.view("t1").status, "owned");
    assert.equal(store.list()[0].owner_user_id, ME);
    assert.equal(store.tasks.get("t1").status, "available");
  });

  test("a refusal (settle without a task) rolls the card back", () => {
    const store = loaded(task("t1"));
    store.begin("t1", { status: "owned", owner_user_id: ME });
    store.settle("t1", null);
    assert.equal(store.pending("t1"), false);
    assert.deepEqual(store.view("t1"), task("t1"));
    assert.deepEqual(store.counts(), { available: 1, owned: 0, inprogress: 0, completed: 0 });
  });

  test("a refusal rolls back to what events brought meanwhile, not to the snapshot", () => {
    const store = loaded(task("t1"));
    store.begin("t1", { status: "owned", owner_user_id: ME });
    store.apply([event("ownership_taken", "t1", 2, { owner_user_id: BOB })]);
    assert.equal(store.view("t1").owner_user_id, ME); // the user's pending action still shows
    store.settle("t1", null);
    assert.equal(store.view("t1").owner_user_id, BOB);
    assert.equal(store.view("t1").version, 2);
  });

  test("the server's answer settles the card", () => {
    const store = loaded(task("t1"));
    store.begin("t1", { status: "owned", owner_user_id: ME });
    const answer = { ...task("t1"), status: "owned", owner_user_id: ME, estimated_hours: 3, version: 2 };
    store.settle("t1", answer);
    assert.equal(store.pending("t1"), false);
    assert.deepEqual(store.view("t1"), { ...task("t1"), status: "owned", owner_user_id: ME, estimated_hours: 3, version: 2 });
  });

  test("an answer older than the card (its event came first) does not undo newer events", () => {
    const store = loaded(task("t1"));
    store.begin("t1", { status: "owned", owner_user_id: ME });
    store.apply([event("ownership_taken", "t1", 2, { owner_user_id: ME }), event("status_changed", "t1", 3)]);
    store.settle("t1", { ...task("t1"), status: "owned", owner_user_id: ME, version: 2 });
    assert.equal(store.view("t1").status, "inprogress");
    assert.equal(store.view("t1").version, 3);
  });

  test("counts follow what the board shows, pending changes included", () => {
    const store = loaded(task("t1"), task("t2"), task("t3", { status: "completed", owner_user_id: BOB }));
    store.begin("t1", { status: "owned", owner_user_id: ME });
    assert.deepEqual(store.counts(), { available: 1, owned: 1, inprogress: 0, completed: 1 });
  });
});

describe("adding a task", () => {
  test("the placeholder shows after its story's last task, pending, until the add ends", () => {
    const store = loaded(task("a1"), task("a2"), task("b1", { story_id: STORY_B, story_title: "Story B" }));
    const id = store.beginAdd("k1", { story_id: STORY_A, story_title: "Story A", title: "Added" });
    assert.deepEqual(ids(store), ["a1", "a2", id, "b1"]);
    const placeholder = store.list()[2];
    assert.equal(placeholder.placeholder, true);
    assert.equal(placeholder.status, "available");
    assert.equal(store.pending(id), true);
    store.settleAdd(id);
    assert.deepEqual(ids(store), ["a1", "a2", "b1"]);
    assert.equal(store.pending(id), false);
  });

  test("a story with no task yet gets the placeholder at the end", () => {
    const store = loaded(task("a1"));
    const id = store.beginAdd("k1", { story_id: STORY_B, story_title: "Story B", title: "First" });
    assert.deepEqual(ids(store), ["a1", id]);
  });

  test("a snapshot that has the new task replaces the placeholder: one card", () => {
    const store = loaded(task("a1"));
    store.beginAdd("k1", { story_id: STORY_A, story_title: "Story A", title: "Added" });
    store.load(board(task("a1"), task("a9", { title: "Added" })));
    assert.deepEqual(ids(store), ["a1", "a9"]);
  });

  test("a snapshot without it keeps the placeholder", () => {
    const store = loaded(task("a1"));
    const id = store.beginAdd("k1", { story_id: STORY_A, story_title: "Story A", title: "Added" });
    store.load(board(task("a1"), task("a9", { title: "Something else" })));
    assert.deepEqual(ids(store), ["a1", "a9", id]);
  });
});

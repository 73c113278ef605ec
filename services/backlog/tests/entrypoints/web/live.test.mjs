// Unit tests of the socket URL's routing hint (static/live.js `socketUrl`, spec §4).

import assert from "node:assert/strict";
import { test } from "node:test";

import { socketUrl } from "../../../src/sprintboard_backlog/entrypoints/web/static/live.js";

test("the socket URL carries the tenant as its routing hint", () => {
  assert.equal(socketUrl("ws://127.0.0.1:8001/api/v1/ws/tasks", "acme"), "ws://127.0.0.1:8001/api/v1/ws/tasks?tenant=acme");
});

test("odd tenant ids are encoded and a query already there is kept", () => {
  const url = new URL(socketUrl("wss://board.example/api/v1/ws/tasks?v=1", "user:7 a&b=c/é"));
  assert.equal(url.searchParams.get("tenant"), "user:7 a&b=c/é");
  assert.equal(url.searchParams.get("v"), "1");
  assert.deepEqual([...url.searchParams.keys()], ["v", "tenant"]);
});

test("no tenant, no hint", () => {
  assert.equal(socketUrl("ws://x/api/v1/ws/tasks", null), "ws://x/api/v1/ws/tasks");
  assert.equal(socketUrl("ws://x/api/v1/ws/tasks", ""), "ws://x/api/v1/ws/tasks");
});

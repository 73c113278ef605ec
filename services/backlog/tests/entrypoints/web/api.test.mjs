// Unit tests of the one casing turn at the HTTP boundary (static/api.js `snakeKeys`).

import assert from "node:assert/strict";
import { test } from "node:test";

import { snakeKeys } from "../../../src/sprintboard_backlog/entrypoints/web/static/api.js";

test("the board's camelCase answer reads as the task JSON does", () => {
  const story = "5d0c6a53-1b6e-4b8e-9a37-0c1f5e0f7a10";
  const answer = {
    sprint: { startDate: "2026-12-01T00:00:00Z", daysRemaining: 3, totalStories: 2, progressPercentage: 50.0 },
    tasks: [{ id: "t1", storyId: story, ownerUserId: null, acceptanceCriteriaRefs: ["AC1", "acRef"], estimatedHours: 2 }],
    groups: { [story]: { count: 1, tasks: ["t1"] }, inprogress: { count: 0, tasks: [] } },
  };
  assert.deepEqual(snakeKeys(answer), {
    sprint: { start_date: "2026-12-01T00:00:00Z", days_remaining: 3, total_stories: 2, progress_percentage: 50.0 },
    tasks: [{ id: "t1", story_id: story, owner_user_id: null, acceptance_criteria_refs: ["AC1", "acRef"], estimated_hours: 2 }],
    groups: { [story]: { count: 1, tasks: ["t1"] }, inprogress: { count: 0, tasks: [] } },
  });
});

test("snake_case answers and plain values pass unchanged", () => {
  const task = { success: true, task: { owner_user_id: "u", acceptance_criteria_refs: [] } };
  assert.deepEqual(snakeKeys(task), task);
  assert.deepEqual(snakeKeys({ notifierUrl: "ws://x", devAuth: true }), { notifier_url: "ws://x", dev_auth: true });
  for (const value of [null, 3, "camelCase", true]) assert.equal(snakeKeys(value), value);
});

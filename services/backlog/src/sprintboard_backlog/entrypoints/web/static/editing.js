// Adding a task to a story and editing a task's title and estimate, from the board, optimistically.

import { api } from "./api.js";
import { askTask } from "./task-dialog.js";
import { refusal, toast } from "./toast.js";

export async function editTask(board, taskId) {
  const task = board.store.view(taskId);
  if (!task || board.store.pending(taskId)) return;
  const fields = await askTask({
    heading: "Edit task",
    context: task.title,
    submitLabel: "Save",
    initial: { title: task.title, estimate: task.estimated_hours },
  });
  refocus(`[data-task-id="${CSS.escape(taskId)}"] button[data-action="edit"]`);
  const now = board.store.view(taskId); // the task as it stands after the dialog: gone, or busy, is no edit
  if (!fields || !now || board.store.pending(taskId)) return;
  const change = {};
  if (fields.title !== now.title) change.title = fields.title;
  if (fields.estimate !== (now.estimated_hours ?? null)) change.estimated_hours = fields.estimate;
  if (!Object.keys(change).length) return;
  await board.optimistic(taskId, change, "update the task", async () => {
    let answer = null;
    if ("title" in change) answer = await api.updateTask(taskId, { title: change.title });
    if ("estimated_hours" in change) answer = await api.updateEstimate(taskId, change.estimated_hours);
    return answer;
  });
}

/** A new task shows at once in its story's group; the snapshot that has it replaces the placeholder. */
export async function addTask(board, story) {
  const fields = await askTask({ heading: "Add task", context: story.title, submitLabel: "Add task", withRefs: true });
  refocus(`button[data-action="add-task"][data-story-id="${CSS.escape(story.id)}"]`);
  if (!fields) return;
  const key = newKey(); // one key per add: the retry below repeats the same add, never makes a second task
  const placeholder = board.store.beginAdd(key, {
    story_id: story.id,
    story_title: story.title,
    title: fields.title,
    acceptance_criteria_refs: fields.refs,
    estimated_hours: fields.estimate,
  });
  board.render();
  const body = { title: fields.title, acceptance_criteria_refs: fields.refs, estimated_hours: fields.estimate };
  try {
    await retryOnce(() => api.addTask(story.id, body, key));
    await board.refetch();
  } catch (error) {
    toast("Could not add the task", refusal(error), { kind: "error" });
  } finally {
    board.store.settleAdd(placeholder);
    board.render();
  }
}

/** Put focus back on a control the board re-rendered while a dialog was open. */
function refocus(selector) {
  document.getElementById("main").querySelector(selector)?.focus();
}

/** A request that never reached an answer (network, a restarting server) is sent once more, unchanged. */
async function retryOnce(send) {
  try {
    return await send();
  } catch (error) {
    if (error.status !== 0 && error.status < 500) throw error;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return send();
  }
}

/** A v4 UUID; `crypto.randomUUID` exists only on secure origins, a board may be served over plain HTTP. */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

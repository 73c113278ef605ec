// The backlog's HTTP API as the page uses it; the bearer token lives in this tab's sessionStorage.

const TOKEN_KEY = "sprintboard.token";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  save(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** Called when the server refuses the token (401): the app sends the user back to sign in. */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

async function request(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection.");
  }
  const data = snakeKeys(await response.json().catch(() => null));
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401 && token) onUnauthorized();
    throw new ApiError(response.status, error.code || `http_${response.status}`, error.message || response.statusText);
  }
  return data;
}

/**
 * The board reads the wire's JSON in snake_case, as the task JSON, the requests and the socket's frames are
 * written; the two answers in camelCase (the board, as spec §2 gives it, and the page's config) turn snake_case in `request`,
 * and nowhere else.
 *
 * `value` with every object key in snake_case (`storyId` -> `story_id`); values are left alone. Keys without
 * capitals stay as they are: snake_case keys, and the story ids and statuses that key the board's `groups`.
 */
export function snakeKeys(value) {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key.replace(/[A-Z]/g, (capital) => `_${capital.toLowerCase()}`), snakeKeys(item)]),
  );
}

const id = (value) => encodeURIComponent(value);

export const api = {
  config: () => request("GET", "/api/v1/board/config"),
  devUsers: () => request("GET", "/api/v1/auth/dev-users"),
  devToken: ({ sub, name, email, org_id }) => request("POST", "/api/v1/auth/dev-token", { sub, name, email, org_id }),
  me: () => request("GET", "/api/v1/users/me"),
  projects: () => request("GET", "/api/v1/projects"),
  async activeSprint(projectId) {
    try {
      return await request("GET", `/api/v1/projects/${id(projectId)}/sprints/active`);
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  },
  board: (sprintId) => request("GET", `/api/v1/sprints/${id(sprintId)}/tasks`),
  user: (userId) => request("GET", `/api/v1/users/${id(userId)}`),
  take: (taskId) => request("PUT", `/api/v1/tasks/${id(taskId)}/ownership`),
  release: (taskId) => request("DELETE", `/api/v1/tasks/${id(taskId)}/ownership`),
  start: (taskId) => request("POST", `/api/v1/tasks/${id(taskId)}/work/start`),
  complete: (taskId) => request("POST", `/api/v1/tasks/${id(taskId)}/work/complete`),
  /** `key` is the add's Idempotency-Key: one per add, the same on a retry of that add. */
  addTask: (storyId, task, key) => request("POST", `/api/v1/stories/${id(storyId)}/tasks`, task, { "Idempotency-Key": key }),
  updateTask: (taskId, fields) => request("PATCH", `/api/v1/tasks/${id(taskId)}`, fields),
  updateEstimate: (taskId, hours) => request("PATCH", `/api/v1/tasks/${id(taskId)}/estimate`, { estimated_hours: hours }),
};

const names = new Map();

/** A user's display name, looked up once per page; null when it cannot be found. */
export function userName(userId) {
  if (!names.has(userId)) {
    const lookup = api.user(userId).then(
      (user) => user.name || user.email || null,
      () => null, // remembered too: a user we may not see stays unnamed, without asking again

    );
    names.set(userId, lookup);
  }
  return names.get(userId);
}

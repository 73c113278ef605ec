// The sign-in page: pick a seeded user (dev sign-in) or paste a bearer token, then choose a sprint.

import { api, session } from "./api.js";
import { clear, fromTemplate, h } from "./dom.js";

/** options: { config, next (a path to go to once signed in), onSignedIn(me) } */
export async function showSignIn(root, { config, next, onSignedIn }) {
  const view = fromTemplate("signin-view");
  clear(root).append(view);
  const part = (name) => view.querySelector(`[data-slot="${name}"]`);
  const status = part("status");
  const say = (text, kind = "info") => {
    status.textContent = text;
    status.dataset.kind = kind;
  };

  // `justNow`: the user has just signed in, so one active sprint in all is where they want to go.
  const signedIn = async (justNow) => {
    try {
      const me = await api.me();
      onSignedIn(me);
      if (next) {
        location.assign(next);
        return;
      }
      part("choose").hidden = true;
      const boards = await showSprints(part("sprints"), me);
      if (justNow && boards.length === 1) {
        location.assign(boards[0]);
        return;
      }
      say("");
    } catch (error) {
      session.clear();
      say(error.status === 401 ? "That token was not accepted. Try again." : error.message, "error");
    }
  };

  view.querySelector("form[data-slot='token-form']").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = event.target.elements.token.value.trim();
    if (!token) return;
    session.save(token);
    await signedIn(true);
  });

  if (config.dev_auth) await listDevUsers(part("dev-users"), say, signedIn);
  else part("dev").hidden = true;

  if (session.token) await signedIn(false);
  else view.querySelector("h1").focus();
}

async function listDevUsers(list, say, signedIn) {
  let users;
  try {
    users = await api.devUsers();
  } catch (error) {
    say(`The seeded users could not be loaded: ${error.message}`, "error");
    return;
  }
  for (const user of users) {
    const button = h(
      "button",
      { type: "button", class: "user-choice", "data-sub": user.sub },
      h("span", { class: "avatar avatar-large", "aria-hidden": "true" }, user.name.slice(0, 1).toUpperCase()),
      h("span", { class: "user-choice-text" }, h("strong", {}, user.name), h("span", {}, user.email)),
    );
    button.addEventListener("click", async () => {
      try {
        const { token } = await api.devToken(user);
        session.save(token);
        await signedIn(true);
      } catch (error) {
        say(`Could not sign in as ${user.name}: ${error.message}`, "error");
      }
    });
    list.append(h("li", {}, button));
  }
}

/** Lists the user's projects with their active sprints; returns the boards' paths. */
async function showSprints(section, me) {
  section.hidden = false;
  section.querySelector("[data-field='me']").textContent = me.name || me.email || "you";
  const list = clear(section.querySelector("ul"));
  list.append(h("li", { class: "muted" }, "Loading your projects…"));
  const projects = await api.projects();
  const sprints = await Promise.all(projects.map((project) => api.activeSprint(project.id).catch(() => null)));
  clear(list);
  if (!projects.length) list.append(h("li", { class: "muted" }, "No projects yet."));
  const boards = [];
  projects.forEach((project, index) => {
    const sprint = sprints[index];
    if (sprint) boards.push(`/projects/${project.id}/sprints/${sprint.id}`);
    list.append(
      h(
        "li",
        { class: "project", "data-project-id": project.id },
        h("span", { class: "project-name" }, project.name),
        sprint
          ? h(
              "a",
              { class: "sprint-link", href: boards[boards.length - 1], "data-sprint-id": sprint.id },
              h("strong", {}, sprint.name),
              sprint.goal ? h("span", {}, sprint.goal) : null,
            )
          : h("span", { class: "muted" }, "No active sprint"),
      ),
    );
  });
  section.querySelector("h2").focus();
  return boards;
}

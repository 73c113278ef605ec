// The page's setup: reads the config, routes by path to the sign-in page or a board, and wires sign-in and sign-out.

import { api, session, whenUnauthorized } from "./api.js";
import { BoardPage } from "./board-page.js";
import { clear, h } from "./dom.js";
import { showSignIn } from "./signin.js";

const BOARD_PATH = /^\/projects\/([0-9a-fA-F-]{36})\/sprints\/([0-9a-fA-F-]{36})\/?$/;
const main = document.getElementById("main");

function signInAgain() {
  session.clear();
  location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
}

function safeNext() {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : null;
}

function showUser(user) {
  document.getElementById("whoami").textContent = user.name || user.email;
  document.getElementById("signout").hidden = false;
}

async function boot() {
  document.getElementById("signout").addEventListener("click", () => {
    session.clear();
    location.assign("/signin");
  });
  const config = await api.config();
  const match = location.pathname.match(BOARD_PATH);
  if (location.pathname === "/signin") {
    document.title = "Sign in · Sprintboard";
    await showSignIn(main, { config, next: safeNext(), onSignedIn: showUser });
  } else if (match) {
    if (!session.token) return signInAgain();
    whenUnauthorized(signInAgain); // the token expired or was revoked while the board was open
    const page = new BoardPage(main, { config, sprintId: match[2], onUser: showUser, onUnauthorized: signInAgain });
    await page.open();
  } else {
    location.replace("/signin");
  }
}

boot().catch((error) => {
  console.error(error);
  clear(main).append(h("div", { class: "empty-state", role: "alert" }, h("h1", {}, "Something went wrong"), h("p", {}, error.message)));
});

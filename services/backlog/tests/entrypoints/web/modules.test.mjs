// Every file of the board's static/ parses as an ES module: a syntax error would leave the page blank.

import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { test } from "node:test";

const STATIC = new URL("../../../src/sprintboard_backlog/entrypoints/web/static/", import.meta.url);

for (const name of readdirSync(STATIC).filter((file) => file.endsWith(".js"))) {
  test(`${name} parses`, () => {
    execFileSync(process.execPath, ["--check", new URL(name, STATIC).pathname], { stdio: "pipe" });
  });
}

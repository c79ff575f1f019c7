// node --test: every module of the pad is a real ES module: it loads on its own (its
// imports resolve, nothing touches the page while loading), and pad.js, the one Streamlit
// loads, default-exports the component's function.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";

const MODULES = readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".js") && !f.endsWith(".test.js") && f !== "fixture.js");

test("each module loads on its own; pad.js exports the component", async () => {
  assert.ok(MODULES.length >= 8, `modules: ${MODULES}`);
  for (const f of MODULES) await import(`./${f}`);
  const pad = await import("./pad.js");
  assert.equal(typeof pad.default, "function");
});

// node --test: the player's scales and ticks (scales.js).
import assert from "node:assert/strict";
import { test } from "node:test";
import { linear, niceStep, tickLabel, ticks } from "./scales.js";

test("a linear scale maps the domain onto the range and back", () => {
  const y = linear(-4, 4, 400, 0);  // a y axis: up is smaller pixels
  assert.equal(y(-4), 400);
  assert.equal(y(4), 0);
  assert.equal(y(0), 200);
  assert.equal(y.invert(100), 2);
  assert.deepEqual(y.domain, [-4, 4]);
  const flat = linear(3, 3, 0, 10);  // an empty domain maps everything to the start
  assert.equal(flat(7), 0);
  assert.equal(flat.invert(5), 3);
});

test("round steps are 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(8, 6), 2);
  assert.equal(niceStep(40, 6), 10);
  assert.equal(niceStep(0.7, 5), 0.2);
  assert.equal(niceStep(38.5, 5), 10);
  assert.equal(niceStep(0, 5), 1);
});

test("ticks are the round multiples inside the range, with a clean zero", () => {
  assert.deepEqual(ticks(-4, 4, 6), [-4, -2, 0, 2, 4]);
  assert.deepEqual(ticks(125.1, 163.6, 5), [130, 140, 150, 160]);
  const t = ticks(-0.3, 0.3, 6);
  assert.deepEqual(t.map((v) => tickLabel(v, 0.1)), ["-0.3", "-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3"]);
  assert.ok(Object.is(ticks(-1, 1, 2)[1], 0));
});

test("tick labels carry the decimals their step needs", () => {
  assert.equal(tickLabel(150, 10), "150");
  assert.equal(tickLabel(2.5, 0.5), "2.5");
  assert.equal(tickLabel(0.05, 0.05), "0.05");
});

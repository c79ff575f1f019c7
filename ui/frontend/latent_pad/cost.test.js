// node --test: the per-pixel cost (cost.js) and the hole shading (layers.js). With
// PAD_FIXTURE (see decoder.test.js), the cost of each bundled model's decoded digit against a
// test digit must be vae_core.decoded_cost's, pixel by pixel and in total, and a Gaussian
// likelihood's must be vae_core.pixel_cost's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { costShade, pixelCost } from "./cost.js";
import { Decoder } from "./decoder.js";
import { fixture as fx, maxDiff, weightsOf } from "./fixture.js";
import { holeShade } from "./layers.js";

test("Bernoulli cost: -log p of each pixel from its logit, stable at large logits", () => {
  const out = new Float32Array(3);
  const total = pixelCost([0, 40, -40], null, { pixels: [1, 1, 1], likelihood: "bernoulli", var: 1 }, out);
  assert.ok(Math.abs(out[0] - Math.LN2) < 1e-7);
  assert.ok(out[1] < 1e-15 && Math.abs(out[2] - 40) < 1e-6 && Number.isFinite(total));
});

test("the heat map: white at the cheapest, full red one span above, capped", () => {
  const bern = { likelihood: "bernoulli", var: 1 };
  const rgba = costShade([0, 2, 4, 100], bern, new Uint8ClampedArray(16));
  assert.deepEqual(Array.from(rgba), [255, 255, 255, 255, 215, 128, 128, 255, 175, 0, 0, 255,
    175, 0, 0, 255]);
  const gauss = { likelihood: "gaussian", var: 0.5 };
  const floor = 0.5 * (Math.log(2 * Math.PI) + Math.log(0.5));
  assert.deepEqual(Array.from(costShade([floor], gauss, new Uint8ClampedArray(4))), [255, 255, 255, 255]);
});

test("holes: transparent below the threshold, then purple growing to full strength", () => {
  const L = { from: Math.log(10), to: Math.log(1e4) };
  const a = holeShade([0, L.from, L.to, 50], L, new Uint8ClampedArray(16));
  assert.deepEqual([a[3], a[7], a[11], a[15]], [0, 38, 153, 153]);
  assert.deepEqual(Array.from(a.slice(4, 7)), [123, 31, 162]);
});

if (!fx) {
  test("the per-pixel cost matches vae_core", { skip: "set PAD_FIXTURE" }, () => {});
} else {
  for (const m of fx.models) {
    test(`${m.name}: the per-pixel cost is vae_core.decoded_cost's`, () => {
      const d = new Decoder(m.spec, weightsOf(m.weights), m.zdim);
      const means = new Float32Array(784), logits = new Float32Array(784), out = new Float32Array(784);
      for (const c of m.cases) {
        d.decode(c.z, means, c.label, logits);
        const total = pixelCost(logits, means, { pixels: c.target, likelihood: c.likelihood, var: c.var }, out);
        assert.ok(maxDiff(out, c.cost) < 2e-3, `${m.name} cost: ${maxDiff(out, c.cost)}`);
        assert.ok(Math.abs(total - c.total) < 1e-3 * Math.max(1, c.total), `total ${total} vs ${c.total}`);
      }
    });
  }
  test("a Gaussian likelihood's cost is vae_core.pixel_cost's", () => {
    for (const c of fx.gaussian) {
      const out = new Float32Array(c.logits.length);
      const total = pixelCost(c.logits, c.means, { pixels: c.target, likelihood: "gaussian", var: c.var }, out);
      assert.ok(maxDiff(out, c.cost) < 1e-5, `gaussian cost: ${maxDiff(out, c.cost)}`);
      assert.ok(Math.abs(total - c.total) < 1e-3, `total ${total} vs ${c.total}`);
    }
  });
}

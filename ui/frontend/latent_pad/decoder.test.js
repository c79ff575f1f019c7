// node --test: the pad's decoder kernels (decoder.js) and the classifier's reading
// (reading.js). With PAD_FIXTURE (a JSON file tests/app/test_pad_modules.py writes from the
// bundled models with vae_core.export_decoder and decode_with_spec), every model's decoded
// pixels and logits, and the digit classifier's logits, must be Python's; foreign decoders'
// pixels must be onnxruntime's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Decoder, elementwise, erf, linear, upsample } from "./decoder.js";
import { close, fixture as fx, maxDiff, weightsOf } from "./fixture.js";
import { readingText, topClass } from "./reading.js";

test("linear: each output is its weight row times x plus its bias", () => {
  const w = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0.5, -1]);  // 2 rows of 5, 2 biases
  const y = new Float32Array(2);
  linear(new Float32Array([1, 0, -1, 2, 1]), y, w, 0, w, 10, 5, 2);
  assert.deepEqual(Array.from(y), [1 - 3 + 8 + 5 + 0.5, 6 - 8 + 18 + 10 - 1]);
});

test("elementwise ops act in place, and an unknown op is refused", () => {
  const x = new Float32Array([-2, 0, 3]);
  elementwise("leaky_relu", { slope: 0.5 }, x, 3);
  assert.deepEqual(Array.from(x), [-1, 0, 3]);
  elementwise("relu", {}, x, 3);
  assert.deepEqual(Array.from(x), [0, 0, 3]);
  assert.throws(() => elementwise("swish", {}, x, 3), /unknown op swish/);
});

test("softplus, the exact gelu and nearest upsampling (ops of foreign decoders)", () => {
  const x = new Float32Array([-30, -1, 0, 2, 40]);
  elementwise("softplus", {}, x, 5);
  [Math.exp(-30), Math.log1p(Math.exp(-1)), Math.LN2, 2 + Math.log1p(Math.exp(-2)), 40]
    .forEach((v, i) => close(x[i], v, 1e-6 * Math.max(1, v), `softplus ${i}`));
  // erf(1), erf(0.5) and erf(-2) to 10 digits: the gelu of 1.414.., 0.707.. and -2.828..
  for (const [v, e] of [[1, 0.8427007929], [0.5, 0.5204998778], [-2, -0.9953222650]]) {
    close(erf(v), e, 2e-7, `erf(${v})`);
    const g = new Float32Array([v * Math.SQRT2]);
    elementwise("gelu", {}, g, 1);
    close(g[0], 0.5 * v * Math.SQRT2 * (1 + e), 1e-6, `gelu(${v * Math.SQRT2})`);
  }
  // A 1x2 image with 2 channels, channels-last, upsampled by 2 into 2x4.
  const y = new Float32Array(16);
  upsample(new Float32Array([1, 2, 3, 4]), y, { k: 2, shape: [2, 4, 2] }, [1, 2, 2]);
  assert.deepEqual(Array.from(y), [1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4]);
});

test("a conditional decoder needs a class in range", () => {
  const spec = [{ op: "one_hot", classes: 2, shape: [3] },
    { op: "linear", in: 3, out: 1, w: 0, b: 3, shape: [1] }, { op: "sigmoid", shape: [1] }];
  const d = new Decoder(spec, new Float32Array([1, 2, -2, 0]), 1);
  const out = new Float32Array(1);
  assert.equal(d.classes, 2);
  close(d.decode([0.5], out, 1)[0], 1 / (1 + Math.exp(1.5)), 1e-6, "0.5 - 2 for class 1");
  assert.throws(() => d.decode([0.5], out, 2), /needs a class 0..1/);
  assert.throws(() => new Decoder(spec, new Float32Array(3), 1), /shorter than the spec/);
});

test("the reading: the top class, its probability, and whether it is the wanted one", () => {
  const top = topClass(new Float32Array([0, Math.log(3), 0, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(top.label, 1);
  close(top.p, 3 / 12, 1e-7, "p");
  assert.equal(readingText(top, null), "the digit classifier reads 1 (25%)");
  assert.equal(readingText(top, 7), "the digit classifier reads 1 (25%), not the class you picked");
});

if (!fx) {
  test("the bundled models decode like vae_core", { skip: "set PAD_FIXTURE" }, () => {});
} else {
  for (const m of fx.models) {
    test(`${m.name} decodes like vae_core.decode_with_spec`, () => {
      const d = new Decoder(m.spec, weightsOf(m.weights), m.zdim);
      const out = new Float32Array(784), logits = new Float32Array(784);
      for (const c of m.cases) {
        d.decode(c.z, out, c.label, logits);
        assert.ok(maxDiff(out, c.pixels) < 2e-5, `${m.name} pixels at ${c.z}: ${maxDiff(out, c.pixels)}`);
        assert.ok(maxDiff(logits, c.logits) < 2e-3, `${m.name} logits: ${maxDiff(logits, c.logits)}`);
        // The same decoder again gives the same digit: decode() keeps no state between calls.
        assert.deepEqual(Array.from(d.decode(c.z, new Float32Array(784), c.label)), Array.from(out));
      }
    });
  }
  // Models this project did not train (tests/foreign_decode.py): decoder.onnx translated by
  // vae_core.onnx_spec, held to onnxruntime's own pixels, not to the NumPy reference.
  for (const m of fx.foreign ?? []) {
    test(`${m.name} decodes like onnxruntime`, () => {
      const d = new Decoder(m.spec, weightsOf(m.weights), m.zdim);
      assert.equal(d.classes, m.classes);
      const out = new Float32Array(784);
      for (const c of m.cases) {
        d.decode(c.z, out, c.label);
        assert.ok(maxDiff(out, c.onnx) < 1e-4, `${m.name} at ${c.z}: ${maxDiff(out, c.onnx)}`);
      }
    });
  }
  test("the digit classifier reads like vae_core.run_spec", () => {
    const k = fx.classifier, net = new Decoder(k.spec, weightsOf(k.weights), 784);
    const logits = new Float32Array(10);
    for (const c of k.cases) {
      net.decode(c.pixels, logits);
      assert.ok(maxDiff(logits, c.logits) < 1e-3, `logits: ${maxDiff(logits, c.logits)}`);
      const top = topClass(logits);
      assert.equal(top.label, c.label);
      close(top.p, c.p, 1e-4, "p");
    }
  });
}

// node --test: decoding a replay blob and the arithmetic of playing it (frames.js). With
// REPLAY_FIXTURE (a JSON file tests/test_app_replay.py writes from a real replay), the
// decoded blob, positions, blends, ellipses and captions must equal Python's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { HALF, blend, caption, decodeReplay, ellipse, locate, nearest, rate, seriesAt } from "./frames.js";

const close = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test("float16 bit patterns decode as IEEE 754 says", () => {
  assert.equal(HALF[0x3c00], 1);
  assert.equal(HALF[0xc000], -2);
  assert.equal(HALF[0x7bff], 65504);
  assert.equal(HALF[0x0001], 2 ** -24);  // the smallest subnormal
  assert.equal(HALF[0x3555], 0.333251953125);
  assert.equal(HALF[0x7c00], Infinity);
  assert.ok(Number.isNaN(HALF[0x7e00]));
});

test("a position falls between two snapshots; a pause snaps to the nearest", () => {
  const ep = new Float32Array([0, 0.5, 1, 2]);
  assert.deepEqual(locate(ep, -1), { i: 0, f: 0 });
  assert.deepEqual(locate(ep, 0.25), { i: 0, f: 0.5 });
  assert.deepEqual(locate(ep, 1.5), { i: 2, f: 0.5 });
  assert.deepEqual(locate(ep, 9), { i: 3, f: 0 });
  assert.equal(nearest(ep, 1.4), 2);
  assert.equal(nearest(ep, 1.6), 3);
  assert.equal(rate(ep, 4), 0.5);  // 2 epochs in 4 s
});

test("blends go linearly from one snapshot to the next", () => {
  const arr = new Float32Array([0, 10, 2, 20, 4, 40]), out = new Float32Array(2);
  assert.deepEqual(Array.from(blend(arr, 2, 0, 0.5, out)), [1, 15]);
  assert.deepEqual(Array.from(blend(arr, 2, 2, 0, out)), [4, 40]);  // the last snapshot
  assert.equal(seriesAt(new Float32Array([NaN, 4, 8]), 1, 0.25), 5);
  assert.ok(Number.isNaN(seriesAt(new Float32Array([NaN, 4]), 0, 0.5)));
});

test("the 1-sigma ellipse of a covariance", () => {
  assert.deepEqual(ellipse(4, 0, 1), [2, 1, 0]);
  const [r1, r2, th] = ellipse(1, 0, 9);  // the long axis is y
  assert.deepEqual([r1, r2], [3, 1]);
  close(Math.abs(th), Math.PI / 2, 1e-12, "angle");
  const [a, b, t] = ellipse(2, 1, 2);  // eigenvalues 3 and 1 along the diagonals
  close(a, Math.sqrt(3), 1e-12, "major");
  close(b, 1, 1e-12, "minor");
  close(t, Math.PI / 4, 1e-12, "angle");
});

test("decoding refuses a blob shorter than its layout", () => {
  const layout = [{ name: "x", dtype: "f4", shape: [4], offset: 0 }];
  assert.throws(() => decodeReplay(new ArrayBuffer(8), layout), /does not fit/);
  assert.throws(() => decodeReplay(new ArrayBuffer(8), [{ ...layout[0], dtype: "f8" }]), /unknown dtype/);
});

const FIXTURE = process.env.REPLAY_FIXTURE;

test("a Python replay decodes to Python's numbers", { skip: !FIXTURE && "set REPLAY_FIXTURE" }, () => {
  const fx = JSON.parse(readFileSync(FIXTURE, "utf8"));
  const raw = readFileSync(join(dirname(FIXTURE), fx.blob));
  const r = decodeReplay(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength), fx.layout);
  assert.equal(r.epoch.length, fx.snapshots);
  assert.deepEqual(Array.from(r.labels), fx.labels);
  assert.deepEqual(Array.from(r.step), fx.steps);
  for (const c of fx.points) {
    fx.fields.forEach((_, j) => close(r.frames[(c.i * fx.n + c.k) * 5 + j], c.values[j], 0, `frame ${c.i} point ${c.k}`));
  }
  for (const p of fx.positions) {
    const got = locate(r.epoch, p.pos);
    assert.equal(got.i, p.i, `position ${p.pos}`);
    close(got.f, p.f, 1e-5, `fraction at ${p.pos}`);
    assert.equal(nearest(r.epoch, p.pos), p.nearest);
    const out = blend(r.frames, 5 * fx.n, got.i, got.f, new Float32Array(5 * fx.n));
    p.blend.forEach((v, k) => close(out[k], v, 1e-4 * (1 + Math.abs(v)), `blend at ${p.pos}`));
  }
  for (const e of fx.ellipses) {
    const [r1, r2, th] = ellipse(...e.cov);
    close(r1, e.radii[0], 1e-6, "major radius");
    close(r2, e.radii[1], 1e-6, "minor radius");
    if (e.radii[0] - e.radii[1] > 1e-3) {  // the major axis is numpy's eigenvector
      close(Math.abs(Math.cos(th) * e.axis[0] + Math.sin(th) * e.axis[1]), 1, 1e-6, "axis");
    }
  }
  for (const c of fx.captions) assert.equal(caption(r, c.i, fx.dims, fx.collapsed), c.text);
});

// For the node tests only: the fixture tests/app/test_pad_modules.py writes (PAD_FIXTURE, a
// JSON file with little-endian float32 weight files beside it), and an array comparison.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const FIXTURE = process.env.PAD_FIXTURE;

/** The parsed fixture, or null when PAD_FIXTURE is not set. */
export const fixture = FIXTURE ? JSON.parse(readFileSync(FIXTURE, "utf8")) : null;

/** The float32 weights file `name` beside the fixture. */
export function weightsOf(name) {
  const raw = readFileSync(join(dirname(FIXTURE), name));
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/** Largest |a - b| over two arrays of one length. */
export function maxDiff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Assert |a - b| <= tol. */
export function close(a, b, tol, what) {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

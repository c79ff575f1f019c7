// node --test: the plane by keyboard (keys.js), the words a screen reader gets (speech.js),
// the hole under z (layers.js) and the test image nearest z (plane.js).
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { bindKeys, keyMove, SETTLE_MS, smallStep } from "./keys.js";
import { holeAt } from "./layers.js";
import { nearestPoint } from "./plane.js";
import { announcement, digitAlt, padName, zText } from "./speech.js";

test("arrow keys step z0 and z1, Shift five times as far, clamped to the range", () => {
  assert.equal(smallStep(3), 0.1);
  assert.equal(smallStep(0.1), 0.01);
  assert.deepEqual(keyMove("ArrowRight", false, [0, 0], 3, null), [0.1, 0]);
  assert.deepEqual(keyMove("ArrowLeft", false, [1.2, -0.5], 3, null), [1.1, -0.5]);
  assert.deepEqual(keyMove("ArrowUp", false, [1.2, -0.5], 3, null), [1.2, -0.4]);
  assert.deepEqual(keyMove("ArrowDown", true, [1.2, -0.5], 3, null), [1.2, -1]);
  assert.deepEqual(keyMove("ArrowRight", true, [2.8, 0], 3, null), [3, 0]);
  let z = [0, 0];
  for (let i = 0; i < 3; i++) z = keyMove("ArrowRight", false, z, 3, null);
  assert.deepEqual(z, [0.3, 0]);  // no 0.30000000000000004
});

test("Home goes to 0, digits to their class's mean code, other keys are not the plane's", () => {
  const means = Array.from({ length: 10 }, (_, c) => [c / 2, -c / 4]);
  assert.deepEqual(keyMove("Home", false, [1, 2], 3, means), [0, 0]);
  assert.deepEqual(keyMove("3", false, [1, 2], 3, means), [1.5, -0.75]);
  assert.deepEqual(keyMove("9", false, [0, 0], 3, means), [3, -2.25]);  // 4.5 clamped
  assert.equal(keyMove("3", false, [1, 2], 3, null), null);  // no means: no jump
  for (const key of ["a", "Tab", "Enter", " ", "PageUp", "End", "#"]) {
    assert.equal(keyMove(key, false, [0, 0], 3, means), null, key);
  }
});

test("a run of presses moves z each time and settles once, after the keys are let go", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const target = new EventTarget(), moves = [], pad = {
      z: [0, 0], range: 3, data: { class_means: null }, dragging: false,
      moveTo(x, y) { this.z = [x, y]; moves.push([x, y]); } };
    let settled = 0;
    bindKeys(target, pad, { moved: () => {}, settled: () => { settled += 1; } });
    const key = (type, k, extra = {}) => {
      const ev = Object.assign(new Event(type, { cancelable: true }), { key: k, ...extra });
      target.dispatchEvent(ev);
      return ev;
    };
    for (let i = 0; i < 5; i++) {
      assert.ok(key("keydown", "ArrowRight").defaultPrevented);  // no page scroll
      assert.ok(pad.dragging);
      key("keyup", "ArrowRight");
      mock.timers.tick(SETTLE_MS - 10);
    }
    assert.equal(settled, 0);
    mock.timers.tick(10);
    assert.equal(settled, 1);
    assert.deepEqual(pad.z, [0.5, 0]);
    assert.equal(moves.length, 5);
    assert.ok(!key("keydown", "a").defaultPrevented);
    assert.ok(!key("keydown", "ArrowRight", { ctrlKey: true }).defaultPrevented);
    key("keyup", "a");
    mock.timers.tick(SETTLE_MS);
    assert.equal(settled, 1);  // no run, nothing to settle
    key("keydown", "ArrowUp");
    target.dispatchEvent(new Event("blur"));  // focus leaves mid-run: the run ends now
    assert.equal(settled, 2);
    assert.deepEqual(pad.z, [0.5, 0.1]);
  } finally {
    mock.timers.reset();
  }
});

test("the live region's sentence: z, the reading, the hole and the nearest test image", () => {
  assert.equal(zText([1.2, -0.5]), "z0 1.20, z1 -0.50");
  assert.equal(zText([-0.001, 0, 1, 2, 3, 4]), "z0 0.00, z1 0.00, z2 1.00, z3 2.00 and 2 more");
  assert.equal(padName([1.2, -0.5]), "Latent pad: z0 1.20, z1 -0.50");
  const top = { label: 7, p: 0.9362 };
  assert.equal(announcement({ z: [1.2, -0.5], top, hole: false,
                              near: { index: 812, name: "7" } }),
               "z0 1.20, z1 -0.50; the classifier reads 7, 94%; not in a hole; "
               + "nearest test image #812, class 7.");
  assert.equal(announcement({ z: [0, 3], top: { label: 1, p: 0.5 }, wanted: 4, hole: true }),
               "z0 0.00, z1 3.00; the classifier reads 1, 50%, not the class you picked; in a "
               + "hole: the prior expects codes here, the test images have almost none.");
  assert.equal(announcement({ z: [0, 1], top: { label: 4, p: 1 }, wanted: 4 }),
               "z0 0.00, z1 1.00; the classifier reads 4, 100%.");
  assert.equal(announcement({ z: [0.5, 0.25] }), "z0 0.50, z1 0.25.");  // no reader, no map
  assert.equal(digitAlt(top, [0, 0]), "decoded digit, read as 7, 94%");
  assert.equal(digitAlt(null, [0, 1]), "decoded image at z0 0.00, z1 1.00");
});

test("the hole under z: the map's cell (row 0 at +y), shaded from L.from on, null off it", () => {
  const L = { cells: 4, from: Math.log(10) };
  const gap = new Float32Array(16).fill(-Infinity);
  gap[0 * 4 + 3] = 3;    // top right: a hole
  gap[3 * 4 + 0] = 2.2;  // bottom left: below the threshold
  assert.equal(holeAt(gap, L, 1.5, 1.5, 2), true);
  assert.equal(holeAt(gap, L, -1.5, -1.5, 2), false);
  assert.equal(holeAt(gap, L, 0.1, 0.1, 2), false);  // beyond the prior's radius: -inf
  assert.equal(holeAt(gap, L, 2.5, 0, 2), null);
  assert.equal(holeAt(gap, L, 0, -2, 2), null);   // the edge is outside (half-open cells)
});

test("the nearest test image, within a distance or anywhere", () => {
  const xy = new Float32Array([0, 0, 1, 1, -2, 0.5]);
  assert.equal(nearestPoint(xy, 0.9, 0.8), 1);
  assert.equal(nearestPoint(xy, -5, 0), 2);
  assert.equal(nearestPoint(xy, 0.5, -0.5, 0.1), -1);
  assert.equal(nearestPoint(new Float32Array(0), 0, 0), -1);
});

// The 2-D plane by keyboard: the arrow keys move z (left/right z0, up/down z1; Shift for big
// steps), Home returns to 0 and the digit keys jump to a class's mean code (Python sends
// them). A run of key presses ends a moment after the last key is let go: z then goes to
// Python as a pointer release sends it, once per run, not once per press.

export const SETTLE_MS = 250;  // a run of presses ends this long after the last key is let go
export const BIG = 5;          // Shift: this many small steps

const round2 = (v) => Math.round(v * 100) / 100;

/** The small step on a plane of half-width `range`: a 30th of it, rounded to 0.01 (0.1 at
 *  the default ±3), so a press moves the ring a few pixels at any range. */
export function smallStep(range) {
  return Math.max(0.01, round2(range / 30));
}

/** [z0, z1] after pressing `key` (a KeyboardEvent's key) at z, clamped to ±range, or null
 *  when the key is not the plane's. means[c]: class c's mean code, or null (no jumps). */
export function keyMove(key, shift, z, range, means) {
  const s = smallStep(range) * (shift ? BIG : 1);
  const moves = { ArrowRight: [s, 0], ArrowLeft: [-s, 0], ArrowUp: [0, s], ArrowDown: [0, -s] };
  let to;
  if (moves[key]) to = [z[0] + moves[key][0], z[1] + moves[key][1]];
  else if (key === "Home") to = [0, 0];
  else if (/^[0-9]$/.test(key) && means && means[Number(key)]) to = means[Number(key)].slice(0, 2);
  else return null;
  return to.map((v) => round2(Math.min(range, Math.max(-range, v))));
}

/** Move the pad's z with keys pressed on `target`. pad: {z, range, data.class_means,
 *  moveTo(x, y), dragging}; moved() runs on every press that moves, settled() once a run
 *  ends (the keys let go, or focus left the plane). */
export function bindKeys(target, pad, { moved, settled }) {
  let timer = 0, running = false;
  const settle = () => {
    clearTimeout(timer);
    timer = 0;
    if (!running) return;
    running = false;
    settled();
  };
  target.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;  // the browser's shortcuts stay its own
    const to = keyMove(ev.key, ev.shiftKey, pad.z, pad.range, pad.data.class_means);
    if (!to) return;
    ev.preventDefault();  // no page scroll
    clearTimeout(timer);  // a held key repeats: the run goes on
    timer = 0;
    running = true;
    pad.dragging = true;  // Python's z waits until the run ends, as during a drag
    moved();
    pad.moveTo(to[0], to[1]);
  });
  target.addEventListener("keyup", () => {
    if (running) {
      clearTimeout(timer);
      timer = setTimeout(settle, SETTLE_MS);
    }
  });
  target.addEventListener("blur", settle);
}

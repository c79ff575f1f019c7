// What the pad did, for the test hooks and benchmarks (hooks.js reads it; nothing else does).
// One object per page: every module that decodes, reads or draws adds to it.

export const stats = {
  frames: 0, decodes: 0, digitChanges: 0, commits: 0, decodeMs: [], roundTripMs: [],
  model: null, ready: false, z: [], pythonZ: [], label: null, error: null,
  reads: 0, readMs: [], reading: null, announced: null,
  layers: null, cost: null,
};

/** Append v (rounded to a microsecond) to a timing list, keeping its last `cap` values. */
export function record(list, v, cap = 5000) {
  list.push(Math.round(v * 1000) / 1000);
  if (list.length > cap) list.splice(0, list.length - cap);
}

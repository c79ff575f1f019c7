// A training replay's frames, decoded from the blob ui/replay_player sends (layout from
// ui.replay_figures.player_arrays), and the pure arithmetic of playing it: where a position
// (in epochs) falls between two snapshots, the blend of those two, the 1-sigma ellipse of a
// 2x2 covariance, the caption of a snapshot. No DOM: node --test runs these.

// float16 -> float32 for every bit pattern (IEEE 754 binary16: 1 sign, 5 exponent, 10
// fraction bits); a 256 KB table turns a blob of a million halves into floats in ~5 ms.
export const HALF = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

const TYPES = { f4: Float32Array, u1: Uint8Array, u4: Uint32Array, f2: Uint16Array };

// {name: typed array} from the blob; float16 arrays come back as Float32Array. Throws with
// one line when the blob does not hold what the layout says.
export function decodeReplay(buffer, layout) {
  const out = {};
  for (const a of layout) {
    const Type = TYPES[a.dtype];
    if (!Type) throw new Error(`replay: ${a.name} has an unknown dtype ${a.dtype}`);
    const count = a.shape.reduce((p, q) => p * q, 1);
    if (a.offset % Type.BYTES_PER_ELEMENT || a.offset + count * Type.BYTES_PER_ELEMENT > buffer.byteLength) {
      throw new Error(`replay: ${a.name} does not fit in the ${buffer.byteLength} bytes received`);
    }
    const raw = new Type(buffer, a.offset, count);
    if (a.dtype === "f2") {
      const f = new Float32Array(count);
      for (let i = 0; i < count; i++) f[i] = HALF[raw[i]];
      out[a.name] = f;
    } else {
      out[a.name] = raw;
    }
  }
  return out;
}

// The snapshot i at or before `pos` (epochs) and the fraction f of the way to snapshot i + 1.
export function locate(epochs, pos) {
  const n = epochs.length;
  if (n === 0) return { i: 0, f: 0 };
  if (!(pos > epochs[0])) return { i: 0, f: 0 };
  if (pos >= epochs[n - 1]) return { i: n - 1, f: 0 };
  let lo = 0, hi = n - 1;  // epochs[lo] <= pos < epochs[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (epochs[mid] <= pos) lo = mid; else hi = mid;
  }
  const span = epochs[hi] - epochs[lo];
  return { i: lo, f: span > 0 ? (pos - epochs[lo]) / span : 0 };
}

// The snapshot nearest to `pos` (a pause shows a measured snapshot, never a blend).
export function nearest(epochs, pos) {
  const { i, f } = locate(epochs, pos);
  return f >= 0.5 && i + 1 < epochs.length ? i + 1 : i;
}

// out[k] = a[k] + f (b[k] - a[k]) over `size` values from snapshot i and i + 1 of `arr`.
export function blend(arr, size, i, f, out) {
  const a = i * size, b = Math.min(i + 1, arr.length / size - 1) * size;
  for (let k = 0; k < size; k++) out[k] = arr[a + k] + f * (arr[b + k] - arr[a + k]);
  return out;
}

// A series' value at (i, f); NaN when either end is NaN (before the first step).
export function seriesAt(arr, i, f) {
  if (f === 0 || i + 1 >= arr.length) return arr[i];
  return arr[i] + f * (arr[i + 1] - arr[i]);
}

// [r1, r2, theta]: the 1-sigma ellipse of covariance [[cxx, cxy], [cxy, cyy]]: radii (major
// first) and the major axis's angle from the x axis.
export function ellipse(cxx, cxy, cyy) {
  const mid = 0.5 * (cxx + cyy), d = Math.hypot(0.5 * (cxx - cyy), cxy);
  const r1 = Math.sqrt(Math.max(mid + d, 0)), r2 = Math.sqrt(Math.max(mid - d, 0));
  return [r1, r2, 0.5 * Math.atan2(2 * cxy, cxx - cyy)];
}

// Python's format of a float with `digits` decimals (toFixed; "-0.0" stays as Python says it).
const fixed = (v, digits) => v.toFixed(digits);

// The caption of snapshot i, word for word ui.replay_view.frame_caption's.
export function caption(r, i, dims, collapsedNats) {
  let text = `step ${r.step[i].toLocaleString("en-US")} · epoch ${fixed(r.epoch[i], 2)}`;
  if (r.epoch_end[i]) text += " (end of the epoch)";
  if (Number.isFinite(r.loss[i])) {
    text += ` · training −ELBO ${fixed(r.loss[i], 1)} = reconstruction ${fixed(r.recon[i], 1)}`
      + ` + KL ${fixed(r.kl[i], 2)} nats`;
  } else {
    text += " · before the first step";
  }
  let collapsed = 0;
  for (let d = 0; d < dims; d++) if (r.kl_dims[i * dims + d] < collapsedNats) collapsed++;
  return `${text} · ${collapsed} of ${dims} dimensions unused`;
}

// Epochs per second at speed 1 for a run that plays in `seconds`.
export function rate(epochs, seconds) {
  const span = epochs.length ? epochs[epochs.length - 1] - epochs[0] : 0;
  return span > 0 && seconds > 0 ? span / seconds : 1;
}

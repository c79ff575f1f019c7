// Linear scales and round ticks for the player's canvases. Pure: node --test runs these.

// A map from [d0, d1] to [r0, r1] (pixels) and back.
export function linear(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  const map = (v) => r0 + (v - d0) * k;
  map.invert = (p) => (k === 0 ? d0 : d0 + (p - r0) / k);
  map.domain = [d0, d1];
  return map;
}

// A round step (1, 2 or 5 times a power of ten) giving about `target` intervals over span.
export function niceStep(span, target = 5) {
  if (!(span > 0)) return 1;
  const raw = span / target, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9));
}

// The multiples of a round step inside [lo, hi], lowest first.
export function ticks(lo, hi, target = 5) {
  const step = niceStep(hi - lo, target), out = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    out.push(Math.abs(k * step) < step * 1e-9 ? 0 : k * step);
  }
  return out;
}

// A tick's label with as many decimals as the step needs.
export function tickLabel(v, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(digits);
}

// Speeds the player offers, as multiples of the run's 1x rate.
export const SPEEDS = [0.25, 0.5, 1, 2, 4];

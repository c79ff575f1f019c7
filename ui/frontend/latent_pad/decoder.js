// The decoder of vae_core.export, run with plain Float32Array loops (no WebGL, no library).
// An ES module with no DOM: the pad imports it, and so does node (decoder.test.js).
//
// Each kernel mirrors vae_core.export.decode_with_spec: activations are flat vectors, 3-D ones
// channels-last (H, W, C), so every innermost loop walks contiguous memory. Buffers are
// allocated once per model; decode() allocates nothing, so a drag does not feed the GC.

export function linear(x, y, w, wo, b, bo, nin, nout) {
  for (let o = 0; o < nout; o++) {
    let s = bo >= 0 ? b[bo + o] : 0;
    const row = wo + o * nin;
    let i = 0;
    // Four independent partial sums: shorter dependency chains, ~1.5x faster in V8.
    let s1 = 0, s2 = 0, s3 = 0;
    for (; i + 3 < nin; i += 4) {
      s += x[i] * w[row + i];
      s1 += x[i + 1] * w[row + i + 1];
      s2 += x[i + 2] * w[row + i + 2];
      s3 += x[i + 3] * w[row + i + 3];
    }
    for (; i < nin; i++) s += x[i] * w[row + i];
    y[o] = s + s1 + s2 + s3;
  }
}

export function fillBias(y, b, bo, pixels, c) {
  if (bo < 0) { y.fill(0); return; }
  for (let p = 0; p < pixels; p++) for (let j = 0; j < c; j++) y[p * c + j] = b[bo + j];
}

// Transposed convolution as a scatter: input pixel (iy, ix) adds w * x into output pixel
// (iy*s - p + ky, ix*s - p + kx). Zero inputs (half of them after a ReLU) are skipped; the
// taps that land inside the output are found once per input pixel. A gather over output
// pixels (dot products in registers) measured 2x slower here: it cannot skip the zeros.
export function convTranspose(x, y, w, L, inShape) {
  const [h, wd, cin] = inShape, [ho, wo, cout] = L.shape;
  const { k, stride: s, padding: p } = L, kkc = k * k * cout;
  fillBias(y, w, L.b, ho * wo, cout);
  const unroll = cout % 4 === 0;
  for (let iy = 0; iy < h; iy++) {
    const ky0 = Math.max(0, p - iy * s), ky1 = Math.min(k, ho + p - iy * s);
    for (let ix = 0; ix < wd; ix++) {
      const kx0 = Math.max(0, p - ix * s), kx1 = Math.min(k, wo + p - ix * s);
      const xb = (iy * wd + ix) * cin;
      for (let ci = 0; ci < cin; ci++) {
        const v = x[xb + ci];
        if (v === 0) continue;
        const wb = L.w + ci * kkc;
        for (let ky = ky0; ky < ky1; ky++) {
          const rowb = ((iy * s - p + ky) * wo + ix * s - p) * cout;
          for (let kx = kx0; kx < kx1; kx++) {
            const yb = rowb + kx * cout, wk = wb + (ky * k + kx) * cout;
            if (unroll) {
              for (let co = 0; co < cout; co += 4) {
                y[yb + co] += v * w[wk + co];
                y[yb + co + 1] += v * w[wk + co + 1];
                y[yb + co + 2] += v * w[wk + co + 2];
                y[yb + co + 3] += v * w[wk + co + 3];
              }
            } else {
              for (let co = 0; co < cout; co++) y[yb + co] += v * w[wk + co];
            }
          }
        }
      }
    }
  }
}

// Convolution as a gather: one dot product over (ky, kx, ci) per output value.
export function conv(x, y, w, L, inShape) {
  const [h, wd, cin] = inShape, [ho, wo, cout] = L.shape;
  const { k, stride: s, padding: p } = L;
  for (let oy = 0; oy < ho; oy++) {
    for (let ox = 0; ox < wo; ox++) {
      for (let co = 0; co < cout; co++) {
        let acc = L.b >= 0 ? w[L.b + co] : 0;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s - p + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s - p + kx;
            if (ix < 0 || ix >= wd) continue;
            const xb = (iy * wd + ix) * cin, wb = L.w + ((co * k + ky) * k + kx) * cin;
            for (let ci = 0; ci < cin; ci++) acc += x[xb + ci] * w[wb + ci];
          }
        }
        y[(oy * wo + ox) * cout + co] = acc;
      }
    }
  }
}

// Non-overlapping k x k max pooling, channels-last (the classifier's 2x2 pools).
export function maxPool(x, y, L, inShape) {
  const [, wd, c] = inShape, [ho, wo] = L.shape, k = L.k;
  for (let oy = 0; oy < ho; oy++) {
    for (let ox = 0; ox < wo; ox++) {
      const yb = (oy * wo + ox) * c;
      for (let ch = 0; ch < c; ch++) y[yb + ch] = -Infinity;
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const xb = ((oy * k + ky) * wd + ox * k + kx) * c;
          for (let ch = 0; ch < c; ch++) if (x[xb + ch] > y[yb + ch]) y[yb + ch] = x[xb + ch];
        }
      }
    }
  }
}

// Nearest-neighbour upsampling by k, channels-last: output pixel (oy, ox) is input (oy/k, ox/k).
export function upsample(x, y, L, inShape) {
  const [, wd, c] = inShape, [ho, wo] = L.shape, k = L.k;
  for (let oy = 0; oy < ho; oy++) {
    for (let ox = 0; ox < wo; ox++) {
      const yb = (oy * wo + ox) * c, xb = (Math.floor(oy / k) * wd + Math.floor(ox / k)) * c;
      for (let ch = 0; ch < c; ch++) y[yb + ch] = x[xb + ch];
    }
  }
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): JavaScript's Math has none.
export function erf(v) {
  const a = Math.abs(v), t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
    t * (-1.453152027 + t * 1.061405429))));
  const r = 1 - poly * Math.exp(-a * a);
  return v < 0 ? -r : r;
}

export function elementwise(op, L, x, n) {
  switch (op) {
    case "relu": for (let i = 0; i < n; i++) if (x[i] < 0) x[i] = 0; break;
    case "leaky_relu": for (let i = 0; i < n; i++) if (x[i] < 0) x[i] *= L.slope; break;
    case "elu": for (let i = 0; i < n; i++) if (x[i] < 0) x[i] = L.alpha * Math.expm1(x[i]); break;
    case "sigmoid": for (let i = 0; i < n; i++) x[i] = 1 / (1 + Math.exp(-x[i])); break;
    case "tanh": for (let i = 0; i < n; i++) x[i] = Math.tanh(x[i]); break;
    case "softplus":  // log(1 + e^x) without overflow for large x
      for (let i = 0; i < n; i++) {
        const v = x[i];
        x[i] = v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
      }
      break;
    case "gelu":  // the exact GELU: x * Phi(x)
      for (let i = 0; i < n; i++) x[i] = 0.5 * x[i] * (1 + erf(x[i] * Math.SQRT1_2));
      break;
    default: throw new Error(`latent pad: unknown op ${op}`);
  }
}

const size = (shape) => shape.reduce((a, b) => a * b, 1);

// Runs any vae_core.export spec: a decoder (z -> 784 pixels) or, with zdim = 784, the digit
// classifier (pixels -> 10 logits, see reading.js).
export class Decoder {
  /** spec: vae_core.export's layer list; weights: its flat float32 array. */
  constructor(spec, weights, zdim) {
    this.spec = spec;
    this.w = weights;
    this.zdim = zdim;
    // A conditional decoder's spec starts with "one_hot": the label's K inputs follow z.
    this.classes = spec.length && spec[0].op === "one_hot" ? spec[0].classes : 0;
    this.input = new Float32Array(zdim + this.classes);
    // Two ping-pong buffers as large as the largest activation.
    const n = Math.max(zdim, ...spec.map((L) => size(L.shape)));
    this.bufs = [new Float32Array(n), new Float32Array(n)];
    this.pixels = size(spec[spec.length - 1].shape);
    for (const L of spec) {
      const end = L.w === undefined ? 0 : Math.max(L.w, L.b) + 1;
      if (end > weights.length) throw new Error("latent pad: weights shorter than the spec");
    }
  }

  /** Decode z (array-like of zdim numbers) into out (Float32Array of 784 values in [0,1]);
   *  a conditional decoder also takes the class index `label` (0..classes-1). `logits`, if
   *  given, receives the values before the output sigmoid (the per-pixel cost needs them:
   *  log(1 - p) from a float32 p near 1 loses what the logit still holds). */
  decode(z, out, label = null, logits = null) {
    let x = this.input, shape = [this.zdim];
    for (let i = 0; i < this.zdim; i++) x[i] = z[i];
    let next = 0;
    for (const L of this.spec) {
      const op = L.op, n = size(L.shape);
      if (op === "one_hot") {  // x is this.input, already zdim + classes long
        if (!Number.isInteger(label) || label < 0 || label >= L.classes) {
          throw new Error(`latent pad: this decoder needs a class 0..${L.classes - 1}, got ${label}`);
        }
        for (let i = 0; i < L.classes; i++) x[this.zdim + i] = i === label ? 1 : 0;
      } else if (op === "linear" || op === "conv2d" || op === "conv_transpose2d" ||
          op === "flatten" || op === "unflatten" || op === "max_pool2d" || op === "upsample") {
        const y = this.bufs[next];
        next ^= 1;
        if (op === "linear") linear(x, y, this.w, L.w, this.w, L.b, L.in, L.out);
        else if (op === "conv2d") conv(x, y, this.w, L, shape);
        else if (op === "conv_transpose2d") convTranspose(x, y, this.w, L, shape);
        else if (op === "max_pool2d") maxPool(x, y, L, shape);
        else if (op === "upsample") upsample(x, y, L, shape);
        else if (op === "unflatten") {  // PyTorch's (C, H, W) -> channels-last
          const [h, wd, c] = L.shape, hw = h * wd;
          for (let ch = 0; ch < c; ch++) for (let q = 0; q < hw; q++) y[q * c + ch] = x[ch * hw + q];
        } else if (shape.length === 3) {  // flatten: channels-last -> (C, H, W)
          const [h, wd, c] = shape, hw = h * wd;
          for (let ch = 0; ch < c; ch++) for (let q = 0; q < hw; q++) y[ch * hw + q] = x[q * c + ch];
        } else {
          y.set(x.subarray(0, n));
        }
        x = y;
      } else {
        if (logits && op === "sigmoid" && L === this.spec[this.spec.length - 1]) {
          logits.set(x.subarray(0, n));
        }
        elementwise(op, L, x, n);
      }
      shape = L.shape;
    }
    out.set(x.subarray(0, this.pixels));
    return out;
  }
}

// The latent pad: z decoded in the browser on every animation frame while the user drags.
//
// Python (ui/latent_pad) sends small JSON each rerun: z, the range, the layer spec and
// content hashes of the binary blobs (decoder weights, the encoded test digits, their
// images, the digit classifier, and when toggled the hole map and round-trip field), with a
// media URL only for blobs this page has not confirmed. Blobs are fetched
// once and kept in module-level maps keyed by hash, so they outlive reruns and remounts.
// z goes back to Python only on release (setStateValue), never per move: a state change
// reruns the script.

const blobs = new Map();      // hash -> Promise<ArrayBuffer>
const loaded = new Set();     // hashes whose blob has arrived
const asked = new Set();      // hashes already requested again through the "need" trigger
const decoders = new Map();   // decoder hash -> Decoder (the digit classifier's too)
const manifolds = new Map();  // `${hash}|${range}|${tiles}|${label}` -> {canvas, next}
const pads = new WeakMap();   // parentElement -> Pad
let current = null;           // the pad updated last (the test hooks use its decoder)
let commitSeq = 0;

const PLANE = 400, MARGIN_L = 34, MARGIN_B = 22, DIGIT = 224, HOVER_PX = 7, COST_PX = 112;
const HOLE_RGB = [123, 31, 162], FIELD_COLOUR = "#d35400";
const FRAME_BUDGET_MS = 6;    // manifold tiles decoded per frame, after the live decode
const READ_EVERY_MS = 100;    // the classifier (~5 ms) reads the digit at most this often

const stats = {
  frames: 0, decodes: 0, digitChanges: 0, commits: 0, decodeMs: [], roundTripMs: [],
  model: null, ready: false, z: [], pythonZ: [], label: null, error: null,
  reads: 0, readMs: [], reading: null,
  layers: null, cost: null,
};
Object.defineProperty(window, "latentPadStats", {
  configurable: true,
  get: () => JSON.parse(JSON.stringify(stats)),  // a copy: read-only for tests and benches
});
// label: the class of a conditional decoder (default: the one Python chose for the pad).
window.latentPadDecode = (z, label) => {
  const d = current && current.decoder;
  if (!d) throw new Error("latent pad: no decoder loaded yet");
  return Array.from(d.decode(z, new Float32Array(784), label === undefined ? current.label : label));
};
// The per-pixel cost of the digit on show against the chosen test digit (null when off).
window.latentPadCostPixels = () => (current && current.cost && current.costPx
  ? Array.from(current.costPx) : null);
// The cost formula alone, for tests: cost = {pixels: x, likelihood, var}.
window.latentPadPixelCost = (logits, means, cost) => {
  const out = new Float32Array(logits.length);
  pixelCost(logits, means, cost, out);
  return Array.from(out);
};
window.latentPadTimeDecodes = (n, seed = 1) => {
  const d = current && current.decoder, out = new Float32Array(784), ms = [];
  if (!d) throw new Error("latent pad: no decoder loaded yet");
  let s = seed;
  const z = new Float64Array(d.zdim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < z.length; j++) { s = (s * 16807) % 2147483647; z[j] = (s / 2147483647) * 6 - 3; }
    const t = performance.now();
    d.decode(z, out, current.label);
    ms.push(performance.now() - t);
  }
  return ms;
};

function record(list, v, cap = 5000) {
  list.push(Math.round(v * 1000) / 1000);
  if (list.length > cap) list.splice(0, list.length - cap);
}

// Media URLs are relative to the server root; the app may live under a path prefix, which
// Streamlit's own script URL reveals.
function absolute(url) {
  if (/^https?:/.test(url)) return url;
  const own = Array.from(document.scripts, (s) => s.src)
    .find((src) => /\/static\/js\/index[^/]*\.js$/.test(src));
  const base = own ? own.replace(/static\/js\/[^/]*$/, "") : `${location.origin}/`;
  return base + url.replace(/^\//, "");
}

function fetchBlob(ref) {
  if (blobs.has(ref.hash)) return blobs.get(ref.hash);
  if (!ref.url) return null;
  const p = fetch(absolute(ref.url))
    .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((buf) => {
      if (buf.byteLength !== ref.bytes) throw new Error(`got ${buf.byteLength} of ${ref.bytes} bytes`);
      loaded.add(ref.hash);
      return buf;
    });
  p.catch(() => blobs.delete(ref.hash));  // a later update may try again
  blobs.set(ref.hash, p);
  return p;
}

const same = (a, b) => !!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]);
const round2 = (v) => Math.round(v * 100) / 100;
const clamp = (v, r) => Math.min(r, Math.max(-r, v));

function niceStep(span, target = 6) {
  const raw = span / target, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
}

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

function hidpi(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function grayCanvas(pixels, ink) {  // 28x28 canvas; ink maps a value in [0,1] to 0..255
  const c = document.createElement("canvas");
  c.width = c.height = 28;
  paintGray(c.getContext("2d"), pixels, ink, 0, 0);
  return c;
}

// -log p(x_i | z) per pixel into out, from the decoder's logits (Bernoulli: BCE with logits,
// as torch computes it; Gaussian: squared error over 2 var plus the density's constant).
// Returns the sum: the model's reconstruction term for target x.
function pixelCost(logits, means, cost, out) {
  const x = cost.pixels, bern = cost.likelihood === "bernoulli";
  const half = 0.5 * (Math.log(2 * Math.PI) + Math.log(cost.var));
  let total = 0;
  for (let i = 0; i < out.length; i++) {
    const l = logits[i];
    const c = bern ? Math.max(l, 0) - l * x[i] + Math.log1p(Math.exp(-Math.abs(l)))
      : (x[i] - means[i]) ** 2 / (2 * cost.var) + half;
    out[i] = c;
    total += c;
  }
  return total;
}

function paintGray(ctx, pixels, ink, x, y) {
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = ink(pixels[i]);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x, y);
}

class Pad {
  constructor(root) {
    this.root = el("div", "lp", null);
    root.appendChild(this.root);
    this.z = [];
    this.pythonZ = null;
    this.lastSent = null;
    this.sentN = null;    // id of this pad's last release
    this.pixels = new Float32Array(784);
    this.shown = new Float32Array(784);
    this.dirty = true;
    this.raf = 0;
    this.dragging = false;
    this.pending = null;  // {n, t}: a release Python has not answered yet
    this.showManifold = true;
  }

  update(data, api) {
    this.api = api;
    this.data = data;
    current = this;
    const layout = `${data.z.length}|${data.dims.join(",")}|${!!data.points}`;
    if (layout !== this.layout) this.build(data);
    this.range = data.range;
    // The class of a conditional decoder (null otherwise): a new one redraws the digit and
    // the plane's manifold at once, from the decoder the page already holds.
    this.label = Number.isInteger(data.label) ? data.label : null;
    stats.label = this.label;
    this.cost = data.cost || null;  // {index, pixels, name, likelihood, var} or null
    stats.layers = data.layers ? { holes: data.layers.holes, field: data.layers.field,
                                   drawn: false } : null;
    for (const s of this.sliders) { s.input.min = -data.range; s.input.max = data.range; }
    this.adopt(data.z, data.ack);
    // Inputs hold z now, not only at the next frame: a new range input starts at its max
    // (the default 50 clamped), and under load a key press can come before any frame.
    this.syncSliders();
    this.load(data);
    this.baseKey = null;  // the plane's background depends on the range and payloads
    this.dirty = true;
    this.requestFrame();
  }

  // Python's z replaces the local one when Python changed it (a button, a smaller range),
  // never while the user drags, and never when it is an echo of an older release of this
  // pad: `ack` names the last release Python has applied, so a run answering release 3
  // while releases 4 and 5 are on their way (fast key presses) does not undo them.
  adopt(z, ack) {
    if (this.pending && ack === this.pending.n) {
      record(stats.roundTripMs, performance.now() - this.pending.t);
      this.pending = null;
    }
    let take;
    if (this.pythonZ === null) take = true;
    else if (this.dragging) take = false;
    else if (this.sentN === null) take = !same(z, this.pythonZ);
    else take = ack === this.sentN && !same(z, this.lastSent);
    if (take) {
      this.z = z.slice();
      this.dirty = true;
    }
    this.pythonZ = z.slice();
    stats.pythonZ = this.pythonZ;
  }

  build(data) {
    this.layout = `${data.z.length}|${data.dims.join(",")}|${!!data.points}`;
    this.root.replaceChildren();
    this.root.classList.toggle("lp-2d", !!data.points);
    if (data.points) {
      const wrap = el("div", "lp-plane-wrap", this.root);
      this.plane = el("canvas", "lp-plane", wrap);
      this.plane.setAttribute("data-testid", "latent-pad-plane");
      this.tip = el("div", "lp-tip", wrap);
      this.tipCanvas = el("canvas", null, this.tip);
      this.tipText = el("span", null, this.tip);
      const below = el("div", "lp-below", wrap);
      this.legend = el("div", "lp-legend", below);
      const toggle = el("label", "lp-toggle", below);
      const box = el("input", null, toggle);
      box.type = "checkbox";
      box.checked = this.showManifold;
      toggle.append(" decoded manifold");
      box.addEventListener("change", () => {
        this.showManifold = box.checked;
        this.baseKey = null;
        this.requestFrame();
      });
      this.bindPlane();
    } else {
      this.plane = null;
    }
    // 2-D: plane | digit over its two sliders. Otherwise: sliders | digit.
    const list = data.points ? null : el("div", "lp-sliders", this.root);
    const side = el("div", "lp-side", this.root);
    this.digit = el("canvas", "lp-digit", side);
    this.digit.setAttribute("data-testid", "latent-pad-digit");
    hidpi(this.digit, DIGIT, DIGIT);
    this.costBox = el("div", "lp-cost", side);
    this.costCanvas = el("canvas", null, this.costBox);
    this.costCanvas.setAttribute("data-testid", "latent-pad-cost");
    this.costText = el("span", null, this.costBox);
    this.costText.setAttribute("data-testid", "latent-pad-cost-text");
    this.readout = el("div", "lp-readout", side);
    this.readout.setAttribute("data-testid", "latent-pad-z");
    this.readingLine = el("div", "lp-reading", side);
    this.readingLine.setAttribute("data-testid", "latent-pad-reading");
    this.status = el("div", "lp-status", side);
    const sliders = list || el("div", "lp-sliders", side);
    sliders.classList.toggle("lp-many", data.z.length > 8);
    this.sliders = data.dims.map((label, i) => this.slider(sliders, label, i));
  }

  slider(list, label, i) {
    const row = el("div", "lp-row", list);
    el("span", "lp-label", row).textContent = label;
    const input = el("input", null, row);
    Object.assign(input, { type: "range", step: "0.01", min: -this.data.range,
                           max: this.data.range });
    input.setAttribute("aria-label", label);
    input.setAttribute("data-testid", `latent-pad-slider-${i}`);
    const value = el("span", "lp-value", row);
    input.addEventListener("pointerdown", () => {
      this.dragging = true;
      // A press that moves nothing fires no "change": end the drag on release anyway, or
      // the pad would ignore every later z from Python (a button, a random draw).
      const end = () => { this.dragging = false; };
      window.addEventListener("pointerup", end, { once: true });
      window.addEventListener("pointercancel", end, { once: true });
    });
    input.addEventListener("input", () => {
      this.z[i] = Number(input.value);
      this.dirty = true;
      this.requestFrame();
    });
    input.addEventListener("change", () => {
      this.dragging = false;
      this.commit();
    });
    return { input, value };
  }

  bindPlane() {
    const c = this.plane;
    const toLatent = (ev) => {
      const r = c.getBoundingClientRect(), e = this.extent();
      const px = ev.clientX - r.left - MARGIN_L, py = ev.clientY - r.top;
      return [-e + (2 * e * px) / PLANE, e - (2 * e * py) / PLANE, px, py];
    };
    c.addEventListener("pointerdown", (ev) => {
      const [x, y, px, py] = toLatent(ev);
      if (px < 0 || py > PLANE || ev.button !== 0) return;
      try {
        c.setPointerCapture(ev.pointerId);  // keep the drag when the pointer leaves the plane
      } catch (err) { /* synthetic events (benchmarks) have no capturable pointer */ }
      this.dragging = true;
      this.hover(null);
      this.moveTo(x, y);
    });
    c.addEventListener("pointermove", (ev) => {
      const [x, y, px, py] = toLatent(ev);
      if (this.dragging) this.moveTo(x, y);
      else this.hover(px >= 0 && py <= PLANE ? [px, py] : null);
    });
    const release = () => {
      if (!this.dragging) return;
      this.dragging = false;
      this.commit();
    };
    c.addEventListener("pointerup", release);
    c.addEventListener("pointercancel", release);
    c.addEventListener("pointerleave", () => { if (!this.dragging) this.hover(null); });
  }

  moveTo(x, y) {
    this.z[0] = clamp(x, this.range);
    this.z[1] = clamp(y, this.range);
    this.dirty = true;
    this.requestFrame();
  }

  commit() {
    this.z = this.z.map(round2);
    this.dirty = true;
    this.requestFrame();
    if (same(this.z, this.pythonZ) && !this.pending) return;  // nothing new for Python
    commitSeq += 1;
    // A fresh id makes every release a state change, so Python's callback always runs.
    const n = `${Date.now()}-${commitSeq}`;
    this.lastSent = this.z.slice();
    this.sentN = n;
    this.pending = { n, t: performance.now() };
    stats.commits += 1;
    this.api.setStateValue("release", { z: this.z.slice(), n, have: Array.from(loaded) });
  }

  load(data) {
    const refs = [data.decoder, data.points, data.images, data.reader,
      data.layers && data.layers.arrays].filter(Boolean);
    for (const ref of refs) {
      const p = fetchBlob(ref);
      if (p) {
        p.then(() => { this.baseKey = null; this.dirty = true; this.requestFrame(); },
               (err) => this.missing(ref, err));
      } else {
        this.missing(ref, null);
      }
    }
    const dec = data.decoder;
    this.decoder = decoders.get(dec.hash) || null;
    if (!this.decoder) {
      this.say("loading the decoder...");
      this.whenLoaded(dec, data.z.length, (d) => {
        if (this.data.decoder.hash !== dec.hash) return;
        this.decoder = d;
        stats.model = dec.hash;
        stats.ready = true;
        this.dirty = true;
        this.requestFrame();
      });
    } else {
      stats.model = dec.hash;
      stats.ready = true;
    }
    // The digit classifier (MNIST models only): it reads the decoded digit in the page.
    const rd = data.reader;
    this.reader = rd ? decoders.get(rd.hash) || null : null;
    if (!rd) this.readingLine.textContent = "";
    if (rd && !this.reader) {
      this.whenLoaded(rd, 784, (r) => {
        if (!this.data.reader || this.data.reader.hash !== rd.hash) return;
        this.reader = r;
        this.readPending = true;
        this.requestFrame();
      });
    }
    this.readPending = true;  // a new class or model: read again
  }

  // Build the Decoder of a spec blob once it has arrived (kept per hash), then call done.
  whenLoaded(ref, inputs, done) {
    const p = fetchBlob(ref);
    if (!p) return;
    p.then((buf) => {
      if (!decoders.has(ref.hash)) {
        decoders.set(ref.hash, new Decoder(ref.spec, new Float32Array(buf), inputs));
      }
      done(decoders.get(ref.hash));
    }).catch(() => {});
  }

  // The classifier's reading of the digit on show, at most every READ_EVERY_MS during a drag
  // (the decode keeps every frame); the last position is always read once the drag stops.
  read() {
    if (!this.reader || !this.readPending) return false;
    const now = performance.now();
    if (this.dragging && now - (this.readAt || 0) < READ_EVERY_MS) return true;  // later
    this.readPending = false;
    this.readAt = now;
    const logits = this.reader.decode(this.pixels, this.logits || (this.logits = new Float32Array(10)));
    record(stats.readMs, performance.now() - now);
    let k = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[k]) k = i;
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - logits[k]);
    const p = 1 / sum;
    stats.reads += 1;
    stats.reading = { label: k, p: Math.round(p * 1000) / 1000 };
    const wanted = this.label !== null && k !== this.label ? ", not the class you picked" : "";
    this.readingLine.textContent = `the digit classifier reads ${k} (${Math.round(p * 100)}%)${wanted}`;
    return false;
  }

  // A blob this page lacks and Python thought it had (or whose URL expired): ask once.
  missing(ref, err) {
    if (!asked.has(ref.hash)) {
      asked.add(ref.hash);
      this.api.setTriggerValue("need", ref.hash);
    } else if (err) {
      stats.error = String(err);
      this.say(`could not load ${ref.what}: ${err.message || err}`);
    }
  }

  say(text) { if (this.status) this.status.textContent = text; }

  extent() { return (this.range * this.data.tiles) / (this.data.tiles - 1); }

  requestFrame() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.frame());
  }

  frame() {
    this.raf = 0;
    if (!this.root.isConnected) return;
    if (this.decoder && this.dirty) {
      this.dirty = false;
      const t = performance.now();
      this.rawOut = this.rawOut || new Float32Array(784);
      this.decoder.decode(this.z, this.pixels, this.label, this.cost ? this.rawOut : null);
      const ms = performance.now() - t;
      this.drawCost();
      record(stats.decodeMs, ms);
      stats.decodes += 1;
      stats.frames += 1;
      if (!this.pixels.every((v, i) => v === this.shown[i])) {
        stats.digitChanges += 1;
        this.shown.set(this.pixels);
        this.readPending = true;
      }
      stats.z = this.z.slice();
      this.drawDigit();
      this.say(`decoded in your browser in ${ms.toFixed(1)} ms`);
    }
    this.drawReadout();
    const readLater = this.decoder && this.read();
    if (readLater) this.requestFrame();
    if (this.plane) {
      const more = this.decoder && this.showManifold && this.growManifold();
      this.drawPlane();
      if (more) this.requestFrame();
    }
  }

  // The decoded digit's cost against the chosen test digit: a heat map (white: cheap, red:
  // costly) and the total, recomputed with every decode.
  drawCost() {
    this.costBox.style.display = this.cost ? "flex" : "none";
    if (!this.cost) { stats.cost = null; return; }
    this.costPx = this.costPx || new Float32Array(784);
    const total = pixelCost(this.rawOut, this.pixels, this.cost, this.costPx);
    const bern = this.cost.likelihood === "bernoulli";
    const floor = bern ? 0 : 0.5 * (Math.log(2 * Math.PI) + Math.log(this.cost.var));
    const span = bern ? 4 : 1 / (2 * this.cost.var);  // 4 nats: p = 0.02 for an inked pixel
    const img = new ImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.min(1, Math.max(0, (this.costPx[i] - floor) / span));
      img.data[4 * i] = 255 - Math.round(80 * v);
      img.data[4 * i + 1] = img.data[4 * i + 2] = Math.round(255 * (1 - v));
      img.data[4 * i + 3] = 255;
    }
    this.costSmall = this.costSmall || document.createElement("canvas");
    this.costSmall.width = this.costSmall.height = 28;
    this.costSmall.getContext("2d").putImageData(img, 0, 0);
    const ctx = hidpi(this.costCanvas, COST_PX, COST_PX);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.costSmall, 0, 0, COST_PX, COST_PX);
    stats.cost = { index: this.cost.index, total: Math.round(total * 1e4) / 1e4,
                   z: this.z.slice() };
    this.costText.textContent = `−log p(x|z) = ${total.toFixed(2)} nats, pixel by pixel, ` +
      `against test #${this.cost.index} (${this.cost.name}); red: costly pixels`;
  }

  drawDigit() {
    const ctx = hidpi(this.digit, DIGIT, DIGIT);
    this.small = this.small || document.createElement("canvas");
    this.small.width = this.small.height = 28;
    paintGray(this.small.getContext("2d"), this.pixels, (v) => Math.round(v * 255), 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.small, 0, 0, DIGIT, DIGIT);
  }

  drawReadout() {
    const shown = this.z.slice(0, 6).map((v) => v.toFixed(2)).join(", ");
    this.readout.textContent = `z = (${shown}${this.z.length > 6 ? ", …" : ""})`;
    this.syncSliders();
  }

  syncSliders() {
    this.sliders.forEach((s, i) => {
      if (i >= this.z.length) return;
      if (Number(s.input.value) !== this.z[i]) s.input.value = this.z[i];
      s.value.textContent = this.z[i].toFixed(2);
    });
  }

  // The decoded manifold under the plane: tiles decoded a few per frame, cached per
  // (model, range, class), so it never stalls a drag.
  growManifold() {
    const t = this.data.tiles;
    const key = `${this.data.decoder.hash}|${this.range}|${t}|${this.label}`;
    let m = manifolds.get(key);
    if (!m) {
      m = { canvas: document.createElement("canvas"), next: 0 };
      m.canvas.width = m.canvas.height = 28 * t;
      const ctx = m.canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, 28 * t, 28 * t);
      manifolds.set(key, m);
    }
    this.manifold = m;
    if (m.next >= t * t) return false;
    const ctx = m.canvas.getContext("2d"), out = new Float32Array(784), r = this.range;
    const start = performance.now();
    while (m.next < t * t && performance.now() - start < FRAME_BUDGET_MS) {
      const row = Math.floor(m.next / t), col = m.next % t;
      this.decoder.decode([-r + (2 * r * col) / (t - 1), r - (2 * r * row) / (t - 1)], out,
                          this.label);
      paintGray(ctx, out, (v) => Math.round(255 - v * 150), col * 28, row * 28);
      m.next += 1;
    }
    this.baseKey = null;
    return m.next < t * t;
  }

  // Axes, manifold and test digits change rarely: drawn once into an offscreen canvas.
  base() {
    const data = this.data, key = [data.decoder.hash, this.range, this.label, this.showManifold,
      this.manifold && this.manifold.next, loaded.has(data.points.hash),
      window.devicePixelRatio, this.layerKey()].join("|");
    if (key === this.baseKey) return this.baseCanvas;
    this.baseKey = key;
    const c = this.baseCanvas || (this.baseCanvas = document.createElement("canvas"));
    const ctx = hidpi(c, PLANE + MARGIN_L, PLANE + MARGIN_B), e = this.extent();
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, PLANE + MARGIN_L, PLANE + MARGIN_B);
    if (this.showManifold && this.manifold && this.manifold.next) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.manifold.canvas, MARGIN_L, 0, PLANE, PLANE);
    }
    const lay = this.layerArrays();
    if (lay && data.layers.holes) this.drawHoles(ctx, lay.gap, data.layers);
    const buf = this.pointsBuf;
    if (buf && buf.hash === data.points.hash) {
      const { xy, labels } = buf;
      for (let i = 0; i < labels.length; i++) {
        const x = xy[2 * i], y = xy[2 * i + 1];
        if (Math.abs(x) >= e || Math.abs(y) >= e) continue;
        ctx.fillStyle = data.colors[labels[i] % data.colors.length];
        ctx.beginPath();
        ctx.arc(MARGIN_L + ((x + e) / (2 * e)) * PLANE, ((e - y) / (2 * e)) * PLANE, 1.6, 0, 7);
        ctx.fill();
      }
    }
    if (lay && data.layers.field) this.drawField(ctx, lay.heads);
    if (lay && stats.layers) stats.layers.drawn = true;
    ctx.strokeStyle = "#bbb";
    ctx.strokeRect(MARGIN_L + 0.5, 0.5, PLANE - 1, PLANE - 1);
    ctx.fillStyle = "#444";
    ctx.font = "11px sans-serif";
    const step = niceStep(2 * this.range);
    for (let v = Math.ceil(-e / step) * step; v <= e + 1e-9; v += step) {
      const label = String(Math.round(v * 1000) / 1000);
      const px = MARGIN_L + ((v + e) / (2 * e)) * PLANE, py = ((e - v) / (2 * e)) * PLANE;
      ctx.textAlign = "center";
      ctx.fillText(label, px, PLANE + 15);
      ctx.textAlign = "right";
      ctx.fillText(label, MARGIN_L - 5, py + 4);
    }
    return c;
  }

  layerKey() {
    const L = this.data.layers;
    return L ? `${L.holes}/${L.field}/${L.arrays.hash}/${!!this.layerArrays()}` : "none";
  }

  // The layer blob as arrays once it has arrived (else null, and ask to redraw on arrival).
  layerArrays() {
    const L = this.data.layers;
    if (!L) return null;
    const ref = L.arrays;
    if (this.layerBuf && this.layerBuf.hash === ref.hash) return this.layerBuf;
    if (loaded.has(ref.hash) && this.layerWait !== ref.hash) {
      this.layerWait = ref.hash;
      blobs.get(ref.hash).then((buf) => {
        const cells = L.cells * L.cells, t = this.data.tiles;
        this.layerBuf = { hash: ref.hash, gap: new Float32Array(buf, 0, cells),
                          heads: new Float32Array(buf, 4 * cells, 2 * t * t) };
        this.baseKey = null;
        this.requestFrame();
      });
    }
    return null;
  }

  // Purple where log p(z) - log q(z) passes L.from (p = 10 q), fully so from L.to.
  drawHoles(ctx, gap, L) {
    const n = L.cells, img = new ImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      const t = (gap[i] - L.from) / (L.to - L.from);
      img.data[4 * i] = HOLE_RGB[0];
      img.data[4 * i + 1] = HOLE_RGB[1];
      img.data[4 * i + 2] = HOLE_RGB[2];
      img.data[4 * i + 3] = t < 0 ? 0 : Math.round(255 * (0.15 + 0.45 * Math.min(1, t)));
    }
    const c = document.createElement("canvas");
    c.width = c.height = n;
    c.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(c, MARGIN_L, 0, PLANE, PLANE);
  }

  // An arrow from each manifold tile centre z to the mean encoding of decode(z).
  drawField(ctx, heads) {
    const t = this.data.tiles, r = this.range, e = this.extent();
    const px = (x) => MARGIN_L + ((x + e) / (2 * e)) * PLANE, py = (y) => ((e - y) / (2 * e)) * PLANE;
    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN_L, 0, PLANE, PLANE);
    ctx.clip();
    ctx.strokeStyle = ctx.fillStyle = FIELD_COLOUR;
    ctx.lineWidth = 1.3;
    for (let k = 0; k < t * t; k++) {
      const row = Math.floor(k / t), col = k % t;
      const x0 = px(-r + (2 * r * col) / (t - 1)), y0 = py(r - (2 * r * row) / (t - 1));
      const x1 = px(heads[2 * k]), y1 = py(heads[2 * k + 1]);
      const len = Math.hypot(x1 - x0, y1 - y0);
      if (len < 1.5) {
        ctx.fillRect(x0 - 1, y0 - 1, 2, 2);
        continue;
      }
      const ux = (x1 - x0) / len, uy = (y1 - y0) / len, h = Math.min(6, 0.45 * len);
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - h * ux - 0.5 * h * uy, y1 - h * uy + 0.5 * h * ux);
      ctx.lineTo(x1 - h * ux + 0.5 * h * uy, y1 - h * uy - 0.5 * h * ux);
      ctx.closePath();
      ctx.fill();
    }
    ctx.restore();
  }

  drawPlane() {
    const data = this.data;
    if (!this.pointsBuf || this.pointsBuf.hash !== data.points.hash) {
      if (loaded.has(data.points.hash)) {
        const hash = data.points.hash;
        blobs.get(hash).then((buf) => {
          const n = data.points.n;
          this.pointsBuf = { hash, xy: new Float32Array(buf, 0, 2 * n),
                             labels: new Uint8Array(buf, 8 * n, n) };
          this.baseKey = null;
          this.requestFrame();
        });
      }
    }
    const ctx = hidpi(this.plane, PLANE + MARGIN_L, PLANE + MARGIN_B), e = this.extent();
    ctx.drawImage(this.base(), 0, 0, PLANE + MARGIN_L, PLANE + MARGIN_B);
    const px = MARGIN_L + ((this.z[0] + e) / (2 * e)) * PLANE, py = ((e - this.z[1]) / (2 * e)) * PLANE;
    ctx.strokeStyle = "#e0002a";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(px, py, 8, 0, 7);
    ctx.stroke();
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(px - 12, py); ctx.lineTo(px + 12, py);
    ctx.moveTo(px, py - 12); ctx.lineTo(px, py + 12);
    ctx.stroke();
    if (this.legend.childElementCount !== data.classes.length) {
      this.legend.replaceChildren(...data.classes.map((name, i) => {
        const item = el("span", "lp-class");
        el("i", null, item).style.background = data.colors[i % data.colors.length];
        item.append(name);
        return item;
      }));
    }
  }

  // The test digit nearest the pointer (within HOVER_PX), shown with its original image.
  hover(at) {
    const buf = this.pointsBuf, images = this.data.images;
    if (!at || !buf || !images || !loaded.has(images.hash)) {
      this.tip.style.display = "none";
      return;
    }
    const e = this.extent();
    let best = -1, bestD = HOVER_PX * HOVER_PX;
    for (let i = 0; i < buf.labels.length; i++) {
      const dx = ((buf.xy[2 * i] + e) / (2 * e)) * PLANE - at[0];
      const dy = ((e - buf.xy[2 * i + 1]) / (2 * e)) * PLANE - at[1];
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (best < 0) { this.tip.style.display = "none"; return; }
    blobs.get(images.hash).then((raw) => {
      const img = new Uint8Array(raw, best * 784, 784);
      const ctx = hidpi(this.tipCanvas, 84, 84);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(grayCanvas(img, (v) => v), 0, 0, 84, 84);
      this.tipText.textContent = `test #${best} · ${this.data.classes[buf.labels[best]]}`;
      this.tip.style.display = "block";
      const left = Math.min(at[0] + MARGIN_L + 12, PLANE + MARGIN_L - 100);
      const top = at[1] > PLANE - 120 ? at[1] - 118 : at[1] + 12;
      this.tip.style.left = `${left}px`;
      this.tip.style.top = `${top}px`;
      this.tip.setAttribute("data-index", String(best));
    });
  }

  destroy() {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.root.remove();
    if (current === this) current = null;
  }
}

export default function (component) {
  const { parentElement, data } = component;
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = new Pad(parentElement);
    pads.set(parentElement, pad);
  }
  pad.update(data, component);
  return () => {
    pad.destroy();
    pads.delete(parentElement);
  };
}

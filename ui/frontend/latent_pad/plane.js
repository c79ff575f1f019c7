// The 2-D plane of a two-dimensional model: axes, the decoded manifold under the test
// digits (coloured by class, with the original image on hover), the optional layers, and the
// crosshair at z, which a press or drag moves. The host pad owns z and the decoder; the plane
// reads them from it (pad.z, pad.range, pad.data, pad.decoder, pad.label) and calls back
// pad.moveTo, pad.release and pad.requestFrame. The plane takes keys too (keys.js): it is one
// focusable widget named "Latent pad: z0 ..., z1 ..." (speech.js).

import { arrived, bytesOf } from "./blobs.js";
import { el, grayCanvas, hidpi, paintGray } from "./canvas.js";
import { bindKeys } from "./keys.js";
import { drawField, drawHoles, holeAt, layerArrays } from "./layers.js";
import { padName } from "./speech.js";
import { stats } from "./stats.js";

export const PLANE = 400, MARGIN_L = 34, MARGIN_B = 22;
const HOVER_PX = 7;
const FRAME_BUDGET_MS = 6;    // manifold tiles decoded per frame, after the live decode
const manifolds = new Map();  // `${hash}|${range}|${tiles}|${label}` -> {canvas, next}

/** The index of the point of xy (flat [x, y] pairs) nearest (x, y) within maxD, or -1. */
export function nearestPoint(xy, x, y, maxD = Infinity) {
  let best = -1, bestD = maxD * maxD;
  for (let i = 0; 2 * i < xy.length; i++) {
    const dx = xy[2 * i] - x, dy = xy[2 * i + 1] - y, d = dx * dx + dy * dy;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

/** A tick step near span / target from 1, 2, 5 x 10^k. */
export function niceStep(span, target = 6) {
  const raw = span / target, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
}

export class Plane {
  constructor(pad, root) {
    this.pad = pad;
    this.showManifold = true;
    this.baseKey = null;
    this.layers = {};  // layerArrays' cache
    const wrap = el("div", "lp-plane-wrap", root);
    this.canvas = el("canvas", "lp-plane", wrap);
    this.canvas.setAttribute("data-testid", "latent-pad-plane");
    // A 2-D control has no ARIA role of its own: "application" hands every key to the page in
    // a screen reader's browse mode too (a "slider" is one-dimensional, and would be spoken
    // on every step); the live region (pad.js) says where z landed once a move ends.
    Object.assign(this.canvas, { tabIndex: 0 });
    this.canvas.setAttribute("role", "application");
    this.canvas.setAttribute("aria-roledescription", "2-D latent pad");
    this.canvas.setAttribute("aria-describedby", "lp-keys");
    // The keys, spoken as the plane's description and shown while it has keyboard focus.
    this.keys = el("div", "lp-keys", wrap);
    this.keys.id = "lp-keys";
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
      this.invalidate();
      this.pad.requestFrame();
    });
    this.bind();
    bindKeys(this.canvas, pad, { moved: () => this.hover(null), settled: () => {
      pad.release();
      this.tipAtZ();
    } });
  }

  /** The plane's accessible name for z now (set when a move ends, not per frame), and its
   *  keys (the digits only where Python sent class mean codes). */
  named() {
    this.canvas.setAttribute("aria-label", padName(this.pad.z));
    this.keys.textContent = "Arrow keys move z (left and right z0, up and down z1), Shift for "
      + "big steps, Home back to 0" + (this.pad.data.class_means
      ? ", digit keys 0 to 9 to that class's mean code" : "") + ".";
  }

  /** Whether z is in a hole of the hole map (null while the map is off or loading). */
  hole() {
    const L = this.pad.data.layers, lay = L && L.holes ? this.layerArrays() : null;
    return lay ? holeAt(lay.gap, L, this.pad.z[0], this.pad.z[1], this.extent()) : null;
  }

  /** The test image nearest z: {index, name}, or null before the codes arrive. */
  near() {
    const buf = this.points;
    if (!buf) return null;
    const i = nearestPoint(buf.xy, this.pad.z[0], this.pad.z[1]);
    return i < 0 ? null : { index: i, name: this.pad.data.classes[buf.labels[i]] };
  }

  /** After a keyboard move: the thumbnail of a test digit under the ring, as a hover shows. */
  tipAtZ() {
    const e = this.extent(), z = this.pad.z;
    this.hover([((z[0] + e) / (2 * e)) * PLANE, ((e - z[1]) / (2 * e)) * PLANE]);
  }

  /** The background (range, payloads or layers changed) is drawn again next frame. */
  invalidate() { this.baseKey = null; }

  /** Half the side of the plane in latent units: the tiles' centres span [-range, range]. */
  extent() {
    const t = this.pad.data.tiles;
    return (this.pad.range * t) / (t - 1);
  }

  bind() {
    const c = this.canvas, pad = this.pad;
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
      this.grabbed = true;  // this pointer drags (a run of keys also sets pad.dragging)
      pad.dragging = true;
      this.hover(null);
      pad.moveTo(x, y);
    });
    c.addEventListener("pointermove", (ev) => {
      const [x, y, px, py] = toLatent(ev);
      if (this.grabbed) pad.moveTo(x, y);
      else if (!pad.dragging) this.hover(px >= 0 && py <= PLANE ? [px, py] : null);
    });
    const release = () => {
      if (!this.grabbed) return;
      this.grabbed = false;
      pad.release();
    };
    c.addEventListener("pointerup", release);
    c.addEventListener("pointercancel", release);
    c.addEventListener("pointerleave", () => { if (!this.grabbed) this.hover(null); });
  }

  /** Grow the manifold and draw; true when more manifold tiles remain (ask another frame). */
  frame() {
    const more = !!this.pad.decoder && this.showManifold && this.growManifold();
    this.draw();
    return more;
  }

  // The decoded manifold under the plane: tiles decoded a few per frame, cached per
  // (model, range, class), so it never stalls a drag.
  growManifold() {
    const pad = this.pad, t = pad.data.tiles, r = pad.range;
    const key = `${pad.data.decoder.hash}|${r}|${t}|${pad.label}`;
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
    const ctx = m.canvas.getContext("2d"), out = new Float32Array(784);
    const start = performance.now();
    while (m.next < t * t && performance.now() - start < FRAME_BUDGET_MS) {
      const row = Math.floor(m.next / t), col = m.next % t;
      pad.decoder.decode([-r + (2 * r * col) / (t - 1), r - (2 * r * row) / (t - 1)], out,
                         pad.label);
      paintGray(ctx, out, (v) => Math.round(255 - v * 150), col * 28, row * 28);
      m.next += 1;
    }
    this.invalidate();
    return m.next < t * t;
  }

  layerArrays() {
    return layerArrays(this.pad.data.layers, this.pad.data.tiles, this.layers, () => {
      this.invalidate();
      this.pad.requestFrame();
    });
  }

  layerKey() {
    const L = this.pad.data.layers;
    return L ? `${L.holes}/${L.field}/${L.arrays.hash}/${!!this.layerArrays()}` : "none";
  }

  // Axes, manifold, layers and test digits change rarely: drawn once into an offscreen canvas.
  base() {
    const pad = this.pad, data = pad.data, key = [data.decoder.hash, pad.range, pad.label,
      this.showManifold, this.manifold && this.manifold.next, arrived(data.points.hash),
      window.devicePixelRatio, this.layerKey()].join("|");
    if (key === this.baseKey) return this.baseCanvas;
    this.baseKey = key;
    const c = this.baseCanvas || (this.baseCanvas = document.createElement("canvas"));
    const ctx = hidpi(c, PLANE + MARGIN_L, PLANE + MARGIN_B), e = this.extent();
    const px = (x) => MARGIN_L + ((x + e) / (2 * e)) * PLANE, py = (y) => ((e - y) / (2 * e)) * PLANE;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, PLANE + MARGIN_L, PLANE + MARGIN_B);
    if (this.showManifold && this.manifold && this.manifold.next) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.manifold.canvas, MARGIN_L, 0, PLANE, PLANE);
    }
    const lay = this.layerArrays(), L = data.layers;
    if (lay && L.holes) drawHoles(ctx, lay.gap, L, MARGIN_L, PLANE);
    const buf = this.points;
    if (buf && buf.hash === data.points.hash) {
      const { xy, labels } = buf;
      for (let i = 0; i < labels.length; i++) {
        const x = xy[2 * i], y = xy[2 * i + 1];
        if (Math.abs(x) >= e || Math.abs(y) >= e) continue;
        ctx.fillStyle = data.colors[labels[i] % data.colors.length];
        ctx.beginPath();
        ctx.arc(px(x), py(y), 1.6, 0, 7);
        ctx.fill();
      }
    }
    if (lay && L.field) {
      drawField(ctx, lay.heads, data.tiles, pad.range, px, py, [MARGIN_L, 0, PLANE, PLANE],
                L.colour);
    }
    if (lay && stats.layers) stats.layers.drawn = true;
    ctx.strokeStyle = "#bbb";
    ctx.strokeRect(MARGIN_L + 0.5, 0.5, PLANE - 1, PLANE - 1);
    ctx.fillStyle = "#444";
    ctx.font = "11px sans-serif";
    const step = niceStep(2 * pad.range);
    for (let v = Math.ceil(-e / step) * step; v <= e + 1e-9; v += step) {
      const label = String(Math.round(v * 1000) / 1000);
      ctx.textAlign = "center";
      ctx.fillText(label, px(v), PLANE + 15);
      ctx.textAlign = "right";
      ctx.fillText(label, MARGIN_L - 5, py(v) + 4);
    }
    return c;
  }

  // The test digits' codes and labels, as arrays once their blob has arrived.
  loadPoints() {
    const ref = this.pad.data.points;
    if ((this.points && this.points.hash === ref.hash) || !arrived(ref.hash)) return;
    bytesOf(ref.hash).then((buf) => {
      const n = ref.n;
      this.points = { hash: ref.hash, xy: new Float32Array(buf, 0, 2 * n),
                      labels: new Uint8Array(buf, 8 * n, n) };
      this.invalidate();
      this.pad.requestFrame();
    });
  }

  draw() {
    const pad = this.pad, data = pad.data;
    this.loadPoints();
    const ctx = hidpi(this.canvas, PLANE + MARGIN_L, PLANE + MARGIN_B), e = this.extent();
    ctx.drawImage(this.base(), 0, 0, PLANE + MARGIN_L, PLANE + MARGIN_B);
    const px = MARGIN_L + ((pad.z[0] + e) / (2 * e)) * PLANE, py = ((e - pad.z[1]) / (2 * e)) * PLANE;
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
    const buf = this.points, images = this.pad.data.images;
    if (!at || !buf || !images || !arrived(images.hash)) {
      this.tip.style.display = "none";
      return;
    }
    const e = this.extent(), unit = (2 * e) / PLANE;  // latent units per pixel
    const best = nearestPoint(buf.xy, -e + at[0] * unit, e - at[1] * unit, HOVER_PX * unit);
    if (best < 0) { this.tip.style.display = "none"; return; }
    bytesOf(images.hash).then((raw) => {
      const img = new Uint8Array(raw, best * 784, 784);
      const ctx = hidpi(this.tipCanvas, 84, 84);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(grayCanvas(img, (v) => v), 0, 0, 84, 84);
      this.tipText.textContent = `test #${best} · ${this.pad.data.classes[buf.labels[best]]}`;
      this.tip.style.display = "block";
      const left = Math.min(at[0] + MARGIN_L + 12, PLANE + MARGIN_L - 100);
      const top = at[1] > PLANE - 120 ? at[1] - 118 : at[1] + 12;
      this.tip.style.left = `${left}px`;
      this.tip.style.top = `${top}px`;
      this.tip.setAttribute("data-index", String(best));
    });
  }
}

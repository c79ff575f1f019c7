// The latent pad: z decoded in the browser on every animation frame while the user drags.
//
// Python (ui/latent_pad) sends small JSON each rerun: z, the range, the class colours, the
// layer spec and content hashes of the binary blobs (decoder weights, the encoded test
// digits, their images, the digit classifier, and when toggled the hole map and round-trip
// field), with a media URL only for blobs this page has not confirmed (blobs.js keeps them).
// z goes back to Python only on release (setStateValue), never per move: a state change
// reruns the script. This module is the host: it owns z, talks to Streamlit and runs the
// frame; decoder.js decodes, plane.js draws a 2-D plane, cost.js the per-pixel cost,
// reading.js the classifier's reading, keys.js the plane's keys, speech.js the words a screen
// reader gets: a polite live region speaks where z landed once a move ends (a release, a
// run of keys, a new z from Python), never per frame. Served as ES modules from this folder
// (ui/frontend_modules.py).

import { decoderOf, fetchBlob, held, whenDecoder } from "./blobs.js";
import { drawDigit, el, hidpi } from "./canvas.js";
import { CostView } from "./cost.js";
import { installHooks } from "./hooks.js";
import { Plane } from "./plane.js";
import { Reading } from "./reading.js";
import { announcement, digitAlt } from "./speech.js";
import { record, stats } from "./stats.js";

const DIGIT = 224;
const asked = new Set();     // hashes already requested again through the "need" trigger
const pads = new WeakMap();  // parentElement -> Pad
let current = null;          // the pad updated last (the test hooks use its decoder)
let commitSeq = 0;

const same = (a, b) => !!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]);
const round2 = (v) => Math.round(v * 100) / 100;
const clamp = (v, r) => Math.min(r, Math.max(-r, v));

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
    this.rawOut = new Float32Array(784);  // the decoder's logits, for the per-pixel cost
    this.small = document.createElement("canvas");
    this.dirty = true;
    this.raf = 0;
    this.dragging = false;
    this.pending = null;  // {n, t}: a release Python has not answered yet
    this.announceDue = false;  // a move ended: speak once the digit on show has been read
    this.describeDue = false;  // z or the reader changed: name the plane and digit again
  }

  update(data, api) {
    this.api = api;
    this.data = data;
    current = this;
    if (data.test_hooks) installHooks(() => current);
    const layout = `${data.z.length}|${data.dims.join(",")}|${!!data.points}`;
    if (layout !== this.layout) this.build(data, layout);
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
    this.describeDue = true;  // the names follow z and the reading, once both are known
    // Inputs hold z now, not only at the next frame: a new range input starts at its max
    // (the default 50 clamped), and under load a key press can come before any frame.
    this.syncSliders();
    this.load(data);
    if (this.plane) this.plane.invalidate();  // its background depends on range and payloads
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
    // Python has applied our last release: its z is news unless it is what we show (a z
    // equal to that release, set again after a button moved away, is news too).
    else take = ack === this.sentN && !same(z, this.z);
    if (take) {
      if (this.pythonZ !== null) this.announceDue = true;  // a button moved z: say so
      this.z = z.slice();
      this.dirty = true;
    }
    this.pythonZ = z.slice();
    stats.pythonZ = this.pythonZ;
  }

  build(data, layout) {
    this.layout = layout;
    this.root.replaceChildren();
    this.root.classList.toggle("lp-2d", !!data.points);
    this.plane = data.points ? new Plane(this, this.root) : null;
    // 2-D: plane | digit over its two sliders. Otherwise: sliders | digit.
    const list = data.points ? null : el("div", "lp-sliders", this.root);
    const side = el("div", "lp-side", this.root);
    this.digit = el("canvas", "lp-digit", side);
    this.digit.setAttribute("data-testid", "latent-pad-digit");
    this.digit.setAttribute("role", "img");
    hidpi(this.digit, DIGIT, DIGIT);
    this.costView = new CostView(side);
    this.readout = el("div", "lp-readout", side);
    this.readout.setAttribute("data-testid", "latent-pad-z");
    const line = el("div", "lp-reading", side);
    line.setAttribute("data-testid", "latent-pad-reading");
    this.reading = new Reading(line);
    this.status = el("div", "lp-status", side);
    this.live = el("div", "lp-sr", side);  // read aloud, not shown: the lines above show it
    this.live.setAttribute("aria-live", "polite");
    this.live.setAttribute("data-testid", "latent-pad-live");
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
    input.addEventListener("change", () => this.release());
    return { input, value };
  }

  moveTo(x, y) {
    this.z[0] = clamp(x, this.range);
    this.z[1] = clamp(y, this.range);
    this.dirty = true;
    this.requestFrame();
  }

  /** A move ended (a pointer let go, a run of keys, a slider's change): z goes to Python,
   *  and the live region speaks once the new digit has been read. */
  release() {
    this.dragging = false;
    this.commit();
    this.announceDue = true;
  }

  /** The names that follow z: the plane's, the digit's text alternative. */
  describe() {
    this.describeDue = false;
    if (this.plane) this.plane.named();
    this.digit.setAttribute("aria-label", digitAlt(this.reading.top, this.z));
  }

  announce() {
    this.announceDue = false;
    this.describe();
    const p = this.plane;
    this.live.textContent = announcement({
      z: this.z, top: this.reading.top, wanted: this.label,
      hole: p ? p.hole() : null, near: p ? p.near() : null });
    stats.announced = this.live.textContent;
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
    this.api.setStateValue("release", { z: this.z.slice(), n, have: held() });
  }

  load(data) {
    const refs = [data.decoder, data.points, data.images, data.reader,
      data.layers && data.layers.arrays].filter(Boolean);
    for (const ref of refs) {
      const p = fetchBlob(ref);
      if (p) {
        p.then(() => {
          if (this.plane) this.plane.invalidate();
          this.dirty = true;
          this.requestFrame();
        }, (err) => this.missing(ref, err));
      } else {
        this.missing(ref, null);
      }
    }
    const dec = data.decoder;
    this.decoder = decoderOf(dec);
    if (!this.decoder) {
      this.say("loading the decoder...");
      whenDecoder(dec, data.z.length, (d) => {
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
    if (rd) this.reading.use(decoderOf(rd));
    else this.reading.clear();
    if (rd && !this.reading.reader) {
      whenDecoder(rd, 784, (r) => {
        if (!this.data.reader || this.data.reader.hash !== rd.hash) return;
        this.reading.use(r);
        this.describeDue = true;
        this.requestFrame();
      });
    }
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

  requestFrame() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.frame());
  }

  frame() {
    this.raf = 0;
    if (!this.root.isConnected) return;
    if (this.decoder && this.dirty) {
      this.dirty = false;
      const t = performance.now();
      this.decoder.decode(this.z, this.pixels, this.label, this.cost ? this.rawOut : null);
      const ms = performance.now() - t;
      this.costView.draw(this.cost, this.rawOut, this.pixels, this.z);
      record(stats.decodeMs, ms);
      stats.decodes += 1;
      stats.frames += 1;
      if (!this.pixels.every((v, i) => v === this.shown[i])) {
        stats.digitChanges += 1;
        this.shown.set(this.pixels);
        this.reading.pending = true;
      }
      stats.z = this.z.slice();
      drawDigit(this.digit, this.pixels, DIGIT, this.small);
      this.say(`decoded in your browser in ${ms.toFixed(1)} ms`);
    }
    this.drawReadout();
    if (this.decoder && this.reading.read(this.pixels, this.dragging, this.label)) {
      this.requestFrame();
    }
    if (this.plane && this.plane.frame()) this.requestFrame();
    if ((this.announceDue || this.describeDue) && !this.dragging && !this.dirty
        && this.decoder && this.reading.settled()) {
      if (this.announceDue) this.announce();
      else this.describe();
    }
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

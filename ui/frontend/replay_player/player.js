// The replay player: plays a training replay at display rate in the page.
//
// Python (ui/replay_player) sends small JSON each rerun: the snapshot it holds (`frame`),
// axes, labels, and the content hash, size, layout and media URL of the blob that holds every
// snapshot. The blob is fetched once per hash and kept decoded in a module-level map. While
// playing or scrubbing, each animation frame blends the two snapshots around the position
// (in epochs) and redraws the canvases; nothing goes to Python. A pause, the end of the run
// or letting go of the scrubber sends the snapshot shown (setStateValue "position").

import { fetchReplay, fetches } from "./load.js";
import { blend, caption, locate, nearest, rate, seriesAt } from "./frames.js";
import { SPEEDS } from "./scales.js";
import { barsBase, cloudsBase, curvesBase, drawBars, drawClouds,
  drawCursor, hidpi, plotArea } from "./charts.js";

const players = new WeakMap(); // parentElement -> Player
const autoplayed = new Set();  // hashes that have played on their own in this page
let sendSeq = 0;

const stats = {
  draws: 0, drawMs: [], playing: false, frame: null, step: null, position: null, sent: [],
  ready: false, hash: null, error: null, autoplayed: false, speed: 1,
};
Object.defineProperty(window, "replayPlayerStats", {
  configurable: true,
  get: () => JSON.parse(JSON.stringify({ ...stats, fetches: fetches() })),  // a copy: read-only for tests and benches
});

function el(tag, cls, parent, attrs = {}) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

const reducedMotion = () => !!(window.matchMedia
  && window.matchMedia("(prefers-reduced-motion: reduce)").matches);

class Player {
  constructor(parent) {
    this.root = el("div", "rp", parent);
    this.controls = el("div", "rp-controls", this.root);
    this.button = el("button", "rp-play", this.controls, { type: "button", "data-testid": "replay-play" });
    this.button.addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    this.scrub = el("input", "rp-scrub", this.controls, { type: "range", min: "0", step: "1",
      "aria-label": "Training timeline (snapshot)", "data-testid": "replay-scrubber" });
    this.scrub.addEventListener("input", () => this.seekFrame(Number(this.scrub.value)));
    this.scrub.addEventListener("change", () => this.commit());
    const speed = el("label", "rp-speed", this.controls);
    speed.append("Speed ");
    this.speed = el("select", null, speed, { "data-testid": "replay-speed" });
    this.speed.addEventListener("change", () => { stats.speed = Number(this.speed.value); });
    this.readout = el("div", "rp-readout", this.root, { "data-testid": "replay-caption" });
    this.status = el("div", "rp-status", this.root, { role: "status" });
    this.body = el("div", "rp-body", this.root);
    const left = el("div", "rp-left", this.body);
    this.title = el("div", "rp-title", left);
    this.clouds = el("canvas", null, left, { role: "img", "data-testid": "replay-clouds" });
    this.legend = el("div", "rp-legend", left);
    const right = el("div", "rp-right", this.body);
    this.curves = el("canvas", "rp-seek", right, { role: "img", "data-testid": "replay-curves",
      "aria-label": "Training loss, reconstruction and KL per snapshot, with a cursor" });
    this.curveLegend = el("div", "rp-legend", right);
    this.bars = el("canvas", null, right, { role: "img", "data-testid": "replay-kl" });
    this.note = el("div", "rp-note", right);
    this.bindSeek();
    this.playing = false;
    this.pos = 0;
    this.raf = 0;
    this.shown = -1;
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.root);
    this.setPlaying(false);
  }

  update(data, api) {
    this.api = api;
    this.data = data;
    if (data.replay.hash !== this.hash) {
      this.hash = data.replay.hash;
      this.r = null;
      stats.ready = false;
      stats.hash = this.hash;
      const p = fetchReplay(data.replay);
      if (!p) {
        this.fail("its frames are not in this page and the server gave no address for them");
        return;
      }
      this.status.textContent = `Loading ${data.replay.what} (${(data.replay.bytes / 1e6).toFixed(1)} MB)...`;
      const hash = this.hash;
      p.then((r) => { if (hash === this.hash) this.start(r); }, (e) => this.fail(e.message));
    } else if (this.r) {
      this.adopt(data.frame);
    }
  }

  fail(why) {
    stats.error = why;
    this.status.textContent = `The training replay cannot be played: ${why}. Reload the page to try again.`;
  }

  start(r) {
    const d = this.data;
    this.r = r;
    this.n = d.snapshots;
    this.pts = new Float32Array(5 * d.points);
    this.kl = new Float32Array(d.dims);
    this.rate = rate(r.epoch, d.seconds);
    this.scrub.max = String(this.n - 1);
    this.speed.replaceChildren(...SPEEDS.map((s) => {
      const o = el("option", null, null, { value: String(s) });
      o.textContent = `${s}× (${Math.round(d.seconds / s)} s)`;
      o.selected = s === 1;
      return o;
    }));
    stats.speed = 1;
    this.title.textContent = d.title;
    this.clouds.setAttribute("aria-label", d.title);
    this.bars.setAttribute("aria-label", "KL per latent dimension at the snapshot shown");
    this.curveLegend.replaceChildren(...["loss", "recon", "kl"].map((k) => {
      const item = el("span");
      el("i", "rp-line", item).style.background = d.curves.colors[k];
      item.append(d.curves.names[k]);
      return item;
    }));
    this.legend.replaceChildren(...d.classes.map((name, i) => {
      const item = el("span");
      el("i", "rp-dot", item).style.background = d.colors[i % d.colors.length];
      item.append(name);
      return item;
    }));
    this.note.textContent = `KL per latent dimension, mean over the followed images. Grey bars `
      + `(under ${d.collapsed} nats) are dimensions the encoder ignores: their posterior is the `
      + "prior (posterior collapse).";
    this.status.textContent = "";
    this.pyFrame = null;
    this.lastSent = null;
    this.adopt(d.frame);
    stats.ready = true;
    this.layout();
    if (d.autoplay && !autoplayed.has(this.hash) && !reducedMotion()) {
      autoplayed.add(this.hash);
      stats.autoplayed = true;
      this.play();
    }
  }

  // Python's snapshot moves the player when Python changed it (a link), never mid-play or
  // mid-drag, and never when it is the echo of what this player sent.
  adopt(frame) {
    if (frame === this.pyFrame) return;
    this.pyFrame = frame;
    if (this.playing || this.dragging || frame === this.lastSent) return;
    this.lastSent = frame;
    this.seekFrame(frame);
  }

  layout() {
    if (!this.r) return;
    const w = Math.max(280, this.root.clientWidth || 800), d = this.data, wide = w >= 820;
    const side = Math.min(520, wide ? Math.floor(w * 0.55) : w);
    const right = wide ? Math.min(560, w - side - 24) : Math.min(560, w);
    this.body.classList.toggle("rp-wide", wide);
    const plot = side - 54, e = d.extent;
    this.gc = plotArea(side, plot + 44, { l: 44, r: 10, t: 8, b: 36 }, [-e, e], [-e, e]);
    const ep = this.r.epoch, x = [ep[0], Math.max(ep[ep.length - 1], ep[0] + 1e-6)];
    this.gk = plotArea(right, 250, { l: 52, r: 44, t: 8, b: 36 }, x, d.left);
    this.gk.y2 = plotArea(right, 250, { l: 52, r: 44, t: 8, b: 36 }, x, d.right).y;
    this.gk.colours = d.curves.colors;
    this.gb = plotArea(right, 190, { l: 52, r: 10, t: 8, b: 36 }, [0, d.dims], d.bars);
    this.bases = { clouds: cloudsBase(this.gc, d.axes), curves: curvesBase(this.gk, this.r),
                   bars: barsBase(this.gb, d.dims, d.collapsed) };
    this.ctx = { clouds: hidpi(this.clouds, this.gc.w, this.gc.h),
                 curves: hidpi(this.curves, this.gk.w, this.gk.h),
                 bars: hidpi(this.bars, this.gb.w, this.gb.h) };
    this.request();
  }

  setPlaying(on) {
    this.playing = on;
    stats.playing = on;
    this.button.textContent = on ? "❚❚ Pause" : "▶ Play";
    this.button.setAttribute("aria-label", on ? "Pause the replay" : "Play the replay");
  }

  play() {
    if (!this.r) return;
    const ep = this.r.epoch;
    if (this.pos >= ep[ep.length - 1]) this.pos = ep[0];  // at the end: from the start
    this.setPlaying(true);
    this.last = null;
    this.request();
  }

  pause() {
    this.setPlaying(false);
    this.seekFrame(nearest(this.r.epoch, this.pos));  // a pause shows a measured snapshot
    this.commit();
  }

  seekFrame(i) {
    if (!this.r) return;
    if (this.playing) this.setPlaying(false);
    this.pos = this.r.epoch[Math.max(0, Math.min(this.n - 1, i))];
    this.request();
  }

  commit() {
    if (!this.r) return;
    const i = nearest(this.r.epoch, this.pos);
    if (i === this.lastSent) return;
    this.lastSent = i;
    stats.sent.push(i);
    this.api.setStateValue("position", { frame: i, n: ++sendSeq });
  }

  bindSeek() {  // drag along the curves to scrub (mouse, pen or touch)
    const c = this.curves;
    const to = (ev) => {
      if (!this.r || !this.gk) return;
      const x = ev.clientX - c.getBoundingClientRect().left;
      this.seekFrame(nearest(this.r.epoch, this.gk.x.invert(x)));
    };
    c.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      try { c.setPointerCapture(ev.pointerId); } catch (err) { /* synthetic events */ }
      this.dragging = true;
      to(ev);
    });
    c.addEventListener("pointermove", (ev) => { if (this.dragging) to(ev); });
    const end = () => { if (!this.dragging) return; this.dragging = false; this.commit(); };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
  }

  request() {
    if (!this.raf) this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  tick(now) {
    this.raf = 0;
    if (!this.r || !this.ctx) return;
    if (this.playing) {
      const ep = this.r.epoch, end = ep[ep.length - 1];
      if (this.last !== null) this.pos += ((now - this.last) / 1000) * this.rate * stats.speed;
      this.last = now;
      if (this.pos >= end) {
        this.pos = end;
        this.pause();
      }
    }
    this.draw();
    if (this.playing) this.request();
  }

  draw() {
    const t0 = performance.now(), r = this.r, d = this.data, { i, f } = locate(r.epoch, this.pos);
    blend(r.frames, 5 * d.points, i, f, this.pts);
    blend(r.kl_dims, d.dims, i, f, this.kl);
    drawClouds(this.ctx.clouds, this.gc, this.bases.clouds, this.pts, r.labels, d.colors, d.classes.length);
    const values = { loss: seriesAt(r.loss, i, f), recon: seriesAt(r.recon, i, f), kl: seriesAt(r.kl, i, f) };
    drawCursor(this.ctx.curves, this.gk, this.bases.curves, this.pos, values);
    drawBars(this.ctx.bars, this.gb, this.bases.bars, this.kl, d.collapsed);
    const k = nearest(r.epoch, this.pos);
    if (k !== this.shown) {
      this.shown = k;
      const text = caption(r, k, d.dims, d.collapsed);
      this.readout.textContent = text;
      this.scrub.value = String(k);
      this.scrub.setAttribute("aria-valuetext", text.split(" · ").slice(0, 2).join(" · "));
    }
    stats.draws += 1;
    stats.drawMs.push(Math.round((performance.now() - t0) * 1000) / 1000);
    if (stats.drawMs.length > 600) stats.drawMs.splice(0, 300);
    stats.frame = k;
    stats.step = r.step[k];
    stats.position = this.pos;
  }

  destroy() {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.resize.disconnect();
    this.root.remove();
  }
}

export default function (component) {
  const { parentElement, data } = component;
  let player = players.get(parentElement);
  if (!player) {
    player = new Player(parentElement);
    players.set(parentElement, player);
  }
  player.update(data, component);
  return () => {
    player.destroy();
    players.delete(parentElement);
  };
}

// The player's three canvases: the posterior clouds, the loss curves with their cursor and
// the KL per dimension. Each has a static base (axes, grid, lines) drawn once per size into
// an offscreen canvas, and a per-frame part drawn over it.

import { hidpi } from "../latent_pad/canvas.js";  // the pad's: one canvas sizing for both
import { ellipse } from "./frames.js";
import { linear, niceStep, tickLabel, ticks } from "./scales.js";

export { hidpi };

const GRID = "#e6e6e6", AXIS = "#555", INK = "#31333f", FONT = "11px sans-serif";

// A plot area inside w x h with margins m = {l, r, t, b} and the scales of its axes.
export function plotArea(w, h, m, x, y) {
  return { w, h, m, x: linear(x[0], x[1], m.l, w - m.r), y: linear(y[0], y[1], h - m.b, m.t) };
}

function grid(ctx, g, xt, yt, fmtX, fmtY, yRight) {
  const { m, w, h } = g;
  ctx.font = FONT;
  ctx.lineWidth = 1;
  ctx.strokeStyle = GRID;
  ctx.fillStyle = AXIS;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of xt) {
    const px = Math.round(g.x(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(px, m.t); ctx.lineTo(px, h - m.b); ctx.stroke();
    ctx.fillText(fmtX(v), px, h - m.b + 4);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of yt) {
    const py = Math.round(g.y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(m.l, py); ctx.lineTo(w - m.r, py); ctx.stroke();
    ctx.fillText(fmtY(v), m.l - 4, py);
  }
  if (yRight) {
    ctx.textAlign = "left";
    for (const v of yRight.ticks) ctx.fillText(yRight.fmt(v), w - m.r + 4, yRight.scale(v));
  }
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(m.l + 0.5, m.t + 0.5, w - m.l - m.r - 1, h - m.t - m.b - 1);
}

function titles(ctx, g, xTitle, yTitle) {
  ctx.fillStyle = INK;
  ctx.font = FONT;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillText(xTitle, (g.m.l + g.w - g.m.r) / 2, g.h - 2);
  ctx.save();
  ctx.translate(11, (g.m.t + g.h - g.m.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText(yTitle, 0, 0);
  ctx.restore();
}

function offscreen(g) {
  const c = document.createElement("canvas");
  return [c, hidpi(c, g.w, g.h)];
}

// The clouds' base: grid, axis titles and the prior's 1-sigma and 2-sigma circles.
export function cloudsBase(g, axes) {
  const [c, ctx] = offscreen(g);
  const t = ticks(g.x.domain[0], g.x.domain[1], 6), step = niceStep(g.x.domain[1] - g.x.domain[0], 6);
  const fmt = (v) => tickLabel(v, step);
  grid(ctx, g, t, t, fmt, fmt, null);
  titles(ctx, g, axes[0], axes[1]);
  const unit = g.x(1) - g.x(0);
  ctx.strokeStyle = "#888";
  for (const [k, dash] of [[1, [5, 4]], [2, [1, 3]]]) {
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.arc(g.x(0), g.y(0), k * unit, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  return c;
}

// Mean dots and 1-sigma ellipses of one frame (pts: [N, 5] x, y, cxx, cxy, cyy), by class.
export function drawClouds(ctx, g, base, pts, labels, colours, classes) {
  ctx.clearRect(0, 0, g.w, g.h);
  ctx.drawImage(base, 0, 0, g.w, g.h);
  const unit = g.x(1) - g.x(0), n = labels.length, m = g.m;
  ctx.save();
  ctx.beginPath();
  ctx.rect(m.l, m.t, g.w - m.l - m.r, g.h - m.t - m.b);
  ctx.clip();
  for (let c = 0; c < classes; c++) {
    const colour = colours[c % colours.length];
    ctx.beginPath();
    for (let k = 0; k < n; k++) {
      if (labels[k] !== c) continue;
      const o = 5 * k, [r1, r2, th] = ellipse(pts[o + 2], pts[o + 3], pts[o + 4]);
      const px = g.x(pts[o]), py = g.y(pts[o + 1]);
      ctx.moveTo(px + r1 * unit * Math.cos(th), py - r1 * unit * Math.sin(th));
      ctx.ellipse(px, py, r1 * unit, r2 * unit, -th, 0, 2 * Math.PI);
    }
    ctx.globalAlpha = 0.35;
    ctx.strokeStyle = colour;
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.beginPath();
    for (let k = 0; k < n; k++) {
      if (labels[k] !== c) continue;
      const px = g.x(pts[5 * k]), py = g.y(pts[5 * k + 1]);
      ctx.moveTo(px + 2.5, py);
      ctx.arc(px, py, 2.5, 0, 2 * Math.PI);
    }
    ctx.fillStyle = colour;
    ctx.fill();
  }
  ctx.restore();
}

// The curves' base: loss and reconstruction on the left axis, KL on the right (g.y2), in
// the colours Python sends (g.colours).
export function curvesBase(g, r) {
  const [c, ctx] = offscreen(g);
  const [x0, x1] = g.x.domain, [y0, y1] = g.y.domain, [k0, k1] = g.y2.domain;
  const xs = niceStep(x1 - x0, 6), ys = niceStep(y1 - y0, 5), ks = niceStep(k1 - k0, 5);
  grid(ctx, g, ticks(x0, x1, 6), ticks(y0, y1, 5), (v) => tickLabel(v, xs), (v) => tickLabel(v, ys),
       { ticks: ticks(k0, k1, 5), fmt: (v) => tickLabel(v, ks), scale: g.y2 });
  titles(ctx, g, "epoch", "nats / image");
  ctx.save();
  ctx.beginPath();
  ctx.rect(g.m.l, g.m.t, g.w - g.m.l - g.m.r, g.h - g.m.t - g.m.b);
  ctx.clip();
  ctx.lineWidth = 1.5;
  for (const k of ["loss", "recon", "kl"]) {
    const y = k === "kl" ? g.y2 : g.y, s = r[k];
    ctx.strokeStyle = g.colours[k];
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < s.length; i++) {
      if (!Number.isFinite(s[i])) { pen = false; continue; }
      const px = g.x(r.epoch[i]), py = y(s[i]);
      if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      pen = true;
    }
    ctx.stroke();
  }
  ctx.restore();
  return c;
}

// The cursor at epoch `at` and a marker on each curve at its value there (kept inside the
// plot: a value above the axis sits on its top edge, hollow).
export function drawCursor(ctx, g, base, at, values) {
  ctx.clearRect(0, 0, g.w, g.h);
  ctx.drawImage(base, 0, 0, g.w, g.h);
  const px = g.x(at), top = g.m.t, bottom = g.h - g.m.b;
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.stroke();
  for (const k of ["loss", "recon", "kl"]) {
    const v = values[k];
    if (!Number.isFinite(v)) continue;
    const raw = (k === "kl" ? g.y2 : g.y)(v), py = Math.min(bottom, Math.max(top, raw));
    ctx.beginPath();
    ctx.arc(px, py, 4.5, 0, 2 * Math.PI);
    if (py === raw) { ctx.fillStyle = g.colours[k]; ctx.fill(); } else { ctx.strokeStyle = g.colours[k]; ctx.stroke(); }
  }
}

// The KL bars' base: grid, titles and the dotted line under which a dimension is unused.
export function barsBase(g, dims, collapsed) {
  const [c, ctx] = offscreen(g);
  const [y0, y1] = g.y.domain, ys = niceStep(y1 - y0, 4);
  const every = Math.max(1, Math.ceil(dims / 16));
  const xt = [];
  for (let d = 0; d < dims; d += every) xt.push(d);
  grid(ctx, g, [], ticks(y0, y1, 4), () => "", (v) => tickLabel(v, ys), null);
  ctx.fillStyle = AXIS;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const d of xt) ctx.fillText(`z${d}`, g.x(d + 0.5), g.h - g.m.b + 4);
  titles(ctx, g, "latent dimension", "KL (nats per image)");
  ctx.strokeStyle = "#888";
  ctx.setLineDash([1, 3]);
  ctx.beginPath(); ctx.moveTo(g.m.l, g.y(collapsed)); ctx.lineTo(g.w - g.m.r, g.y(collapsed)); ctx.stroke();
  ctx.setLineDash([]);
  return c;
}

// One bar per dimension: red when used, grey under `collapsed` nats.
export function drawBars(ctx, g, base, kl, collapsed) {
  ctx.clearRect(0, 0, g.w, g.h);
  ctx.drawImage(base, 0, 0, g.w, g.h);
  const slot = g.x(1) - g.x(0), bottom = g.y(0), top = g.m.t;
  for (let d = 0; d < kl.length; d++) {
    const py = Math.max(top, g.y(kl[d]));
    ctx.fillStyle = kl[d] < collapsed ? "#bbbbbb" : "#d62728";
    ctx.fillRect(g.x(d) + 0.125 * slot, py, 0.75 * slot, Math.max(0, bottom - py));
  }
}

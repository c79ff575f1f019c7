// The plane's layers (ui.plane_layers): the hole map, purple where the prior puts far more
// mass than the aggregate posterior, and the round-trip field, an arrow from each manifold
// tile centre z to the mean encoding of decode(z). Python sends both in one blob; its
// colours come in data.layers (colour) so the pad and the plotly figures agree.

import { arrived, bytesOf } from "./blobs.js";

const HOLE_RGB = [123, 31, 162];

/** The layer blob of spec L = data.layers as {hash, gap, heads}, once it has arrived; until
 *  then null, and onReady() runs when it is ready. `cache` keeps the arrays per plane. */
export function layerArrays(L, tiles, cache, onReady) {
  if (!L) return null;
  const ref = L.arrays;
  if (cache.arrays && cache.arrays.hash === ref.hash) return cache.arrays;
  if (arrived(ref.hash) && cache.waiting !== ref.hash) {
    cache.waiting = ref.hash;
    bytesOf(ref.hash).then((buf) => {
      const cells = L.cells * L.cells;
      cache.arrays = { hash: ref.hash, gap: new Float32Array(buf, 0, cells),
                       heads: new Float32Array(buf, 4 * cells, 2 * tiles * tiles) };
      onReady();
    });
  }
  return null;
}

/** The hole map as RGBA into rgba: transparent below L.from (log p(z) - log q(z), p = 10 q),
 *  then purple growing to full strength at L.to. */
export function holeShade(gap, L, rgba) {
  for (let i = 0; i < gap.length; i++) {
    const t = (gap[i] - L.from) / (L.to - L.from);
    rgba[4 * i] = HOLE_RGB[0];
    rgba[4 * i + 1] = HOLE_RGB[1];
    rgba[4 * i + 2] = HOLE_RGB[2];
    rgba[4 * i + 3] = t < 0 ? 0 : Math.round(255 * (0.15 + 0.45 * Math.min(1, t)));
  }
  return rgba;
}

/** Draw the hole map over the plane's box (x0, 0, side, side). */
export function drawHoles(ctx, gap, L, x0, side) {
  const n = L.cells, img = new ImageData(n, n);
  holeShade(gap, L, img.data);
  const c = document.createElement("canvas");
  c.width = c.height = n;
  c.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(c, x0, 0, side, side);
}

/** Draw the round-trip field: tiles x tiles arrows from the tile centres over [-r, r] to
 *  heads (flat [x, y] pairs); px, py map latent coordinates to the canvas. */
export function drawField(ctx, heads, tiles, r, px, py, box, colour) {
  const t = tiles;
  ctx.save();
  ctx.beginPath();
  ctx.rect(...box);
  ctx.clip();
  ctx.strokeStyle = ctx.fillStyle = colour;
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

/** Whether (x, y) lies in a hole of the map gap (L.cells^2 cells over [-extent, extent]^2,
 *  row 0 at +y): the cell under it is shaded (gap >= L.from). null off the map. */
export function holeAt(gap, L, x, y, extent) {
  const n = L.cells;
  const col = Math.floor(((x + extent) / (2 * extent)) * n);
  const row = Math.floor(((extent - y) / (2 * extent)) * n);
  if (col < 0 || row < 0 || col >= n || row >= n) return null;
  return gap[row * n + col] >= L.from;
}

// The per-pixel cost of the decoded digit against a chosen test digit: -log p(x_i | z) for
// each pixel, drawn as a heat map (white: cheap, red: costly) beside the digit with its total.
// pixelCost and costShade are pure (node tests them against vae_core); CostView draws.

import { el, hidpi } from "./canvas.js";
import { stats } from "./stats.js";

const COST_PX = 112;
const BERNOULLI_SPAN = 4;  // nats of full red: p = 0.02 for an inked pixel

/** -log p(x_i | z) per pixel into out, from the decoder's logits (Bernoulli: BCE with logits,
 *  as torch computes it) or its means (Gaussian: squared error over 2 var plus the density's
 *  constant), for target cost = {pixels, likelihood, var}. Returns the sum: the model's
 *  reconstruction term for that target. */
export function pixelCost(logits, means, cost, out) {
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

/** The heat map of per-pixel costs as RGBA into rgba (4 values a pixel): the cheapest a
 *  pixel can be is white, BERNOULLI_SPAN nats (Bernoulli) or one variance (Gaussian) above
 *  it full red. */
export function costShade(costPx, cost, rgba) {
  const bern = cost.likelihood === "bernoulli";
  const floor = bern ? 0 : 0.5 * (Math.log(2 * Math.PI) + Math.log(cost.var));
  const span = bern ? BERNOULLI_SPAN : 1 / (2 * cost.var);
  for (let i = 0; i < costPx.length; i++) {
    const v = Math.min(1, Math.max(0, (costPx[i] - floor) / span));
    rgba[4 * i] = 255 - Math.round(80 * v);
    rgba[4 * i + 1] = rgba[4 * i + 2] = Math.round(255 * (1 - v));
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

/** The cost panel under the digit: hidden while the cost is off. */
export class CostView {
  constructor(parent) {
    this.box = el("div", "lp-cost", parent);
    this.canvas = el("canvas", null, this.box);
    this.canvas.setAttribute("data-testid", "latent-pad-cost");
    this.text = el("span", null, this.box);
    this.text.setAttribute("data-testid", "latent-pad-cost-text");
    this.px = null;  // the last per-pixel costs (a test hook reads them)
    this.small = document.createElement("canvas");
  }

  /** Recompute and draw the cost of the decoded digit (logits, means) at z; cost: the
   *  target {index, pixels, name, likelihood, var}, or null when off. */
  draw(cost, logits, means, z) {
    this.box.style.display = cost ? "flex" : "none";
    if (!cost) { stats.cost = null; return; }
    this.px = this.px || new Float32Array(784);
    const total = pixelCost(logits, means, cost, this.px);
    const img = new ImageData(28, 28);
    costShade(this.px, cost, img.data);
    this.small.width = this.small.height = 28;
    this.small.getContext("2d").putImageData(img, 0, 0);
    const ctx = hidpi(this.canvas, COST_PX, COST_PX);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.small, 0, 0, COST_PX, COST_PX);
    stats.cost = { index: cost.index, total: Math.round(total * 1e4) / 1e4, z: z.slice() };
    this.text.textContent = `−log p(x|z) = ${total.toFixed(2)} nats, pixel by pixel, ` +
      `against test #${cost.index} (${cost.name}); red: costly pixels`;
  }
}

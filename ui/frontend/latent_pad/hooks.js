// Hooks for the browser tests and benchmarks (tests/e2e, bench/latent_pad.py, bench/loadtest):
// installed only when Python says so (data.test_hooks, from VAE_TEST_HOOKS=1 in the server's
// environment), so a production page carries no window.latentPad* globals.

import { pixelCost } from "./cost.js";
import { stats } from "./stats.js";

let installed = false;

/** Define the window.latentPad* hooks once; current() is the pad updated last (or null). */
export function installHooks(current) {
  if (installed) return;
  installed = true;
  const decoder = () => {
    const pad = current();
    if (!pad || !pad.decoder) throw new Error("latent pad: no decoder loaded yet");
    return pad;
  };
  Object.defineProperty(window, "latentPadStats", {
    configurable: true,
    get: () => JSON.parse(JSON.stringify(stats)),  // a copy: read-only for tests and benches
  });
  // label: the class of a conditional decoder (default: the one Python chose for the pad).
  window.latentPadDecode = (z, label) => {
    const pad = decoder();
    return Array.from(pad.decoder.decode(z, new Float32Array(784),
                                         label === undefined ? pad.label : label));
  };
  // The per-pixel cost of the digit on show against the chosen test digit (null when off).
  window.latentPadCostPixels = () => {
    const pad = current();
    return pad && pad.cost && pad.costView.px ? Array.from(pad.costView.px) : null;
  };
  // The cost formula alone, for tests: cost = {pixels: x, likelihood, var}.
  window.latentPadPixelCost = (logits, means, cost) => {
    const out = new Float32Array(logits.length);
    pixelCost(logits, means, cost, out);
    return Array.from(out);
  };
  window.latentPadTimeDecodes = (n, seed = 1) => {
    const pad = decoder(), d = pad.decoder, out = new Float32Array(784), ms = [];
    let s = seed;
    const z = new Float64Array(d.zdim);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < z.length; j++) { s = (s * 16807) % 2147483647; z[j] = (s / 2147483647) * 6 - 3; }
      const t = performance.now();
      d.decode(z, out, pad.label);
      ms.push(performance.now() - t);
    }
    return ms;
  };
}

// The digit classifier's reading of the digit on show, computed in the page with the
// classifier vae_core.export_classifier exported (a Decoder of 784 inputs and 10 logits).

import { record, stats } from "./stats.js";

const READ_EVERY_MS = 100;  // the classifier (~5 ms) reads the digit at most this often

/** The most likely class of these logits and its softmax probability. */
export function topClass(logits) {
  let k = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[k]) k = i;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - logits[k]);
  return { label: k, p: 1 / sum };
}

/** The sentence under the digit: what the classifier reads, and whether it is the class a
 *  conditional model was asked for (wanted: that class, or null). */
export function readingText({ label, p }, wanted) {
  const not = wanted !== null && label !== wanted ? ", not the class you picked" : "";
  return `the digit classifier reads ${label} (${Math.round(p * 100)}%)${not}`;
}

/** The reading line: reads at most every READ_EVERY_MS during a drag (the decode keeps every
 *  frame); the last position is always read once the drag stops. */
export class Reading {
  constructor(line) {
    this.line = line;
    this.reader = null;     // the classifier's Decoder, once loaded
    this.pending = false;   // the digit changed since the last reading
    this.at = 0;
    this.logits = new Float32Array(10);
    this.top = null;        // the last reading: {label, p}
  }

  /** A classifier to read with (null while it loads): the digit is read again. */
  use(reader) {
    this.reader = reader;
    this.pending = true;
  }

  /** No classifier for this model: no reading. */
  clear() {
    this.use(null);
    this.top = null;
    this.line.textContent = "";
  }

  /** Whether the reading is of the digit on show (or there is no classifier to read it). */
  settled() { return !this.reader || !this.pending; }

  /** Read the pixels if due; true when a reading is still owed (ask for another frame). */
  read(pixels, dragging, wanted) {
    if (!this.reader || !this.pending) return false;
    const now = performance.now();
    if (dragging && now - this.at < READ_EVERY_MS) return true;  // later
    this.pending = false;
    this.at = now;
    const top = this.top = topClass(this.reader.decode(pixels, this.logits));
    record(stats.readMs, performance.now() - now);
    stats.reads += 1;
    stats.reading = { label: top.label, p: Math.round(top.p * 1000) / 1000 };
    this.line.textContent = readingText(top, wanted);
    return false;
  }
}

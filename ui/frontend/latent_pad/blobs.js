// The pad's binary payloads (decoder weights, test digits, their images, the classifier, the
// plane layers), fetched once per content hash from their media URL and kept in module-level
// maps: a module is evaluated once per page, so they outlive reruns, remounts and page
// switches. Python learns which hashes the page holds from each release (`held()`).

import { Decoder } from "./decoder.js";

const blobs = new Map();     // hash -> Promise<ArrayBuffer>
const loaded = new Set();    // hashes whose blob has arrived
const decoders = new Map();  // spec blob hash -> Decoder (the digit classifier's too)

// Media URLs are relative to the server root; the app may live under a path prefix, which
// Streamlit's own script URL reveals. (The notebook widget's are object URLs: blob:.)
function absolute(url) {
  if (/^(https?|blob):/.test(url)) return url;
  const own = Array.from(document.scripts, (s) => s.src)
    .find((src) => /\/static\/js\/index[^/]*\.js$/.test(src));
  const base = own ? own.replace(/static\/js\/[^/]*$/, "") : `${location.origin}/`;
  return base + url.replace(/^\//, "");
}

/** The bytes of ref = {hash, bytes, url}: a promise, or null when the page neither holds
 *  nor may fetch them (no URL: Python thought the page had them). */
export function fetchBlob(ref) {
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

/** Whether the blob of this hash has arrived. */
export const arrived = (hash) => loaded.has(hash);

/** The arrived blob of this hash (a promise; call only when arrived(hash)). */
export const bytesOf = (hash) => blobs.get(hash);

/** The hashes this page holds, for Python to stop sending their URLs. */
export const held = () => Array.from(loaded);

/** The Decoder of a spec blob if already built, else null. */
export const decoderOf = (ref) => decoders.get(ref.hash) || null;

/** Build the Decoder of spec blob `ref` (`inputs` numbers in) once it arrives, kept per
 *  hash, then call done(decoder). */
export function whenDecoder(ref, inputs, done) {
  const p = fetchBlob(ref);
  if (!p) return;
  p.then((buf) => {
    if (!decoders.has(ref.hash)) {
      decoders.set(ref.hash, new Decoder(ref.spec, new Float32Array(buf), inputs));
    }
    done(decoders.get(ref.hash));
  }).catch(() => {});
}

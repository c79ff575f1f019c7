// Fetching a replay's blob once per content hash; the decoded arrays outlive reruns,
// remounts and page switches (a module-level map).

import { decodeReplay } from "./frames.js";

const replays = new Map();  // hash -> Promise<decoded replay>
let fetched = 0;

export const fetches = () => fetched;  // how many blobs this page has asked the server for

function absolute(url) {  // media URLs are relative to the server root (see latent pad)
  if (/^https?:/.test(url)) return url;
  const own = Array.from(document.scripts, (s) => s.src)
    .find((src) => /\/static\/js\/index[^/]*\.js$/.test(src));
  return (own ? own.replace(/static\/js\/[^/]*$/, "") : `${location.origin}/`) + url.replace(/^\//, "");
}

export function fetchReplay(ref) {
  if (replays.has(ref.hash)) return replays.get(ref.hash);
  if (!ref.url) return null;
  fetched += 1;
  const p = fetch(absolute(ref.url))
    .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((buf) => {
      if (buf.byteLength !== ref.bytes) throw new Error(`got ${buf.byteLength} of ${ref.bytes} bytes`);
      return decodeReplay(buf, ref.layout);
    });
  p.catch(() => replays.delete(ref.hash));  // a later run's URL may try again
  replays.set(ref.hash, p);
  return p;
}

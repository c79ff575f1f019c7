// What the pad says without pictures: the plane's accessible name, the decoded digit's text
// alternative, and the sentence its polite live region speaks once a move ends (never per
// frame). The same facts as the picture and the hover thumbnails, in words.

/** v with two decimals, never "-0.00". */
export const fix2 = (v) => (Math.round(v * 100) / 100 || 0).toFixed(2);

/** "z0 1.20, z1 -0.50", the first `most` coordinates, then how many more. */
export function zText(z, most = 4) {
  const shown = z.slice(0, most).map((v, i) => `z${i} ${fix2(v)}`).join(", ");
  return z.length > most ? `${shown} and ${z.length - most} more` : shown;
}

/** The plane's accessible name: it starts with "Latent pad". */
export function padName(z) {
  return `Latent pad: ${zText(z, 2)}`;
}

/** "reads 7, 94%" (and whether that is the class a conditional model was asked for). */
export function readsText({ label, p }, wanted) {
  const not = wanted !== null && wanted !== undefined && label !== wanted
    ? ", not the class you picked" : "";
  return `reads ${label}, ${Math.round(p * 100)}%${not}`;
}

/** The decoded digit's text alternative: what the classifier reads, when it can read. */
export function digitAlt(top, z) {
  return top ? `decoded digit, read as ${top.label}, ${Math.round(top.p * 100)}%`
    : `decoded image at ${zText(z)}`;
}

/** The live region's sentence once a move ends: z, the classifier's reading (top: {label, p}
 *  or null), with the hole map on whether z is in a hole (hole: true, false or null when
 *  off), and the nearest test image (near: {index, name} or null). */
export function announcement({ z, top = null, wanted = null, hole = null, near = null }) {
  const parts = [zText(z)];
  if (top) parts.push(`the classifier ${readsText(top, wanted)}`);
  if (hole !== null) parts.push(hole ? "in a hole: the prior expects codes here, the test "
    + "images have almost none" : "not in a hole");
  if (near) parts.push(`nearest test image #${near.index}, class ${near.name}`);
  return `${parts.join("; ")}.`;
}

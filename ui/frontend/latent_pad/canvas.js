// Small DOM and canvas helpers shared by the pad's views.

/** A new element of this tag and class, appended to parent when given. */
export function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

/** Size a canvas to w x h CSS pixels at the device pixel ratio; its 2-D context, scaled. */
export function hidpi(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Paint 784 values as a 28x28 gray image at (x, y); ink maps a value to 0..255. */
export function paintGray(ctx, pixels, ink, x, y) {
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = ink(pixels[i]);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x, y);
}

/** A 28x28 canvas of these pixels (see paintGray). */
export function grayCanvas(pixels, ink) {
  const c = document.createElement("canvas");
  c.width = c.height = 28;
  paintGray(c.getContext("2d"), pixels, ink, 0, 0);
  return c;
}

/** Draw 784 values in [0, 1] as ink on white, scaled to side x side CSS pixels. */
export function drawDigit(canvas, pixels, side, small) {
  const ctx = hidpi(canvas, side, side);
  small.width = small.height = 28;
  paintGray(small.getContext("2d"), pixels, (v) => Math.round(v * 255), 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, side, side);
}

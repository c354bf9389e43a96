// Images to tensors, as the zoo's reference preprocessing (tools/zoo/preprocess.py, PIL +
// torchvision) does it, bit for bit: decode without color management, PIL's antialiased bilinear
// resize in fixed point, center crop, normalise. The engine's classify() and the pages share it.

import { ZeroskipError } from './errors.js';

const MAX_DECODE_SHORTER = 1024; // photos larger than this are first scaled by the browser (keeps the JS resize quick)
const fail = (code, message) => new ZeroskipError(code, message);

const PRECISION_BITS = 22; // PIL: 32 - 8 - 2
/** PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter. */
function pilCoeffs(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale; // bilinear support 1.0
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const clip8 = (ss) => (ss >= 255 << PRECISION_BITS ? 255 : ss <= 0 ? 0 : Math.floor(ss / (1 << PRECISION_BITS)));

/**
 * One 1-D pass of PIL's resample over RGBA pixels: `lines` lines of `inLen` pixels → `lines`
 * lines of `outLen` pixels (alpha set to 255). Horizontal: a line is an image row, its pixels
 * adjacent. Vertical: a line is a column, its pixels `lines` apart (the image is `lines` wide).
 */
function resamplePass(src, inLen, outLen, lines, vertical) {
  const { ksize, bounds, kk } = pilCoeffs(inLen, outLen);
  const dst = new Uint8ClampedArray(outLen * lines * 4);
  // pixel i of line l lies at l·inLine + i·step (outLine for the output)
  const [inLine, outLine, step] = vertical ? [1, 1, lines] : [inLen, outLen, 1];
  const half = 1 << (PRECISION_BITS - 1); // rounds the fixed-point sums to nearest
  for (let l = 0; l < lines; l++) {
    for (let j = 0; j < outLen; j++) {
      const [min, taps] = [bounds[2 * j], bounds[2 * j + 1]];
      const kb = j * ksize;
      let [r, g, b] = [half, half, half];
      for (let i = 0; i < taps; i++) {
        const p = (l * inLine + (i + min) * step) * 4;
        const c = kk[kb + i];
        r += src[p] * c;
        g += src[p + 1] * c;
        b += src[p + 2] * c;
      }
      const o = (l * outLine + j * step) * 4;
      dst[o] = clip8(r);
      dst[o + 1] = clip8(g);
      dst[o + 2] = clip8(b);
      dst[o + 3] = 255;
    }
  }
  return dst;
}

/** RGBA uint8 [h, w, 4] → [outH, outW, 4], as PIL: the horizontal pass, then the vertical one. */
function pilResize(src, w, h, outW, outH) {
  let cur = src;
  if (outW !== w) cur = resamplePass(cur, w, outW, h, false);
  if (outH !== h) cur = resamplePass(cur, h, outH, outW, true);
  return cur;
}

/**
 * A Blob (a JPEG, PNG, WebP or GIF file) or an ImageBitmap → `{data: RGBA bytes, width, height}`,
 * decoded as PIL does (no color-space conversion, EXIF orientation applied). Photos whose shorter
 * side exceeds 1024 px are first scaled down to 1024 by the browser. Needs OffscreenCanvas and
 * createImageBitmap (browsers, workers); a bitmap the caller passes is not closed.
 */
export async function decodeImage(image) {
  if (typeof OffscreenCanvas !== 'function' || typeof createImageBitmap !== 'function') {
    throw fail('Unsupported', 'this runtime cannot decode images (no OffscreenCanvas/createImageBitmap): pass ImageData-like {data, width, height} RGBA pixels');
  }
  let bmp = image;
  const owned = [];
  if (globalThis.Blob && image instanceof Blob) {
    if (!image.size) throw fail('BadImage', 'the image file is empty');
    try {
      bmp = await createImageBitmap(image, { colorSpaceConversion: 'none', imageOrientation: 'from-image' });
    } catch (err) {
      const what = image.type ? `${image.type}, ` : '';
      throw fail('BadImage', `could not decode the image (${what}${image.size} bytes): ${String(err?.message ?? err).replace(/\.$/, '')}. Use a JPEG, PNG, WebP or GIF.`);
    }
    owned.push(bmp);
  }
  try {
    if (!bmp || !(bmp.width > 0 && bmp.height > 0)) throw fail('BadImage', 'the image has no pixels (not loaded yet, or 0×0)');
    let [w, h] = [bmp.width, bmp.height];
    if (Math.min(w, h) > MAX_DECODE_SHORTER) {
      const s = MAX_DECODE_SHORTER / Math.min(w, h);
      bmp = await createImageBitmap(bmp, { resizeWidth: Math.round(w * s), resizeHeight: Math.round(h * s), resizeQuality: 'high' });
      owned.push(bmp);
      [w, h] = [bmp.width, bmp.height];
    }
    const ctx = new OffscreenCanvas(w, h).getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bmp, 0, 0);
    return { data: ctx.getImageData(0, 0, w, h).data, width: w, height: h };
  } finally {
    for (const b of owned) b.close?.();
  }
}

/** torchvision's ImageNet normalisation, the default of preprocess() and of load()'s classifiers. */
export const IMAGENET = Object.freeze({ mean: Object.freeze([0.485, 0.456, 0.406]), std: Object.freeze([0.229, 0.224, 0.225]) });

/** Checks `{data, width, height}` is whole RGBA pixels (ImageData-like); returns it. */
export function checkPixels(pixels) {
  const { data, width, height } = pixels ?? {};
  if (!(width > 0 && height > 0) || !data || data.length !== width * height * 4) {
    throw fail('BadImage', `pixels: ${data?.length ?? 0} bytes for ${width}×${height} RGBA (expected ${width * height * 4})`);
  }
  return pixels;
}

/**
 * RGBA pixels `{data, width, height}` → `{tensor, crop}`: NCHW float32 [3, size, size] as
 * torchvision/PIL make it: resize the shorter side to `resize` (antialiased bilinear, longer side
 * rounded; default size·256/224), center-crop `size` (default 224), then (pixel/255 − mean) / std
 * (default ImageNet's). `crop` is the cropped RGBA, for previews.
 */
export function preprocess(image, { size = 224, resize = Math.round((size * 256) / 224), mean = IMAGENET.mean, std = IMAGENET.std } = {}) {
  const { data, width: w, height: h } = checkPixels(image);
  const scale = resize / Math.min(w, h);
  const nw = w <= h ? resize : Math.max(resize, Math.round(w * scale));
  const nh = w <= h ? Math.max(resize, Math.round(h * scale)) : resize;
  const resized = pilResize(data, w, h, nw, nh);
  const left = Math.round((nw - size) / 2);
  const top = Math.round((nh - size) / 2);
  const plane = size * size;
  const tensor = new Float32Array(3 * plane);
  const crop = new Uint8ClampedArray(plane * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = ((y + top) * nw + (x + left)) * 4;
      const i = y * size + x;
      for (let c = 0; c < 3; c++) {
        crop[i * 4 + c] = resized[p + c];
        tensor[c * plane + i] = (resized[p + c] / 255 - mean[c]) / std[c];
      }
      crop[i * 4 + 3] = 255;
    }
  }
  return { tensor, crop };
}


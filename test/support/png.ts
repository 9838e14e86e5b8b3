/**
 * A small PNG decoder for tests (8-bit RGB/RGBA/grey, non-interlaced: what resvg and Chromium
 * write), on node:zlib. Used instead of resvg's `pixels` getter, which copies the whole buffer on
 * every access, and to look at Chromium's screenshots.
 */
import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

export function decodePng(buf: Buffer): DecodedPng {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0,
    height = 0,
    bitDepth = 0,
    colorType = 0,
    interlace = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      bitDepth = body[8]!;
      colorType = body[9]!;
      interlace = body[12]!;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (bitDepth !== 8 || !channels || interlace !== 0)
    throw new Error(`unsupported PNG: depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const data = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? data[row + x - channels]! : 0;
      const b = y > 0 ? data[row - stride + x]! : 0;
      const c = x >= channels && y > 0 ? data[row - stride + x - channels]! : 0;
      let v = src[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c,
          pa = Math.abs(p - a),
          pb = Math.abs(p - b),
          pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      data[row + x] = v & 0xff;
    }
  }
  return { width, height, channels, data };
}

export function rgbAt(p: DecodedPng, x: number, y: number): [number, number, number] {
  const i = (y * p.width + x) * p.channels;
  return p.channels >= 3 ? [p.data[i]!, p.data[i + 1]!, p.data[i + 2]!] : [p.data[i]!, p.data[i]!, p.data[i]!];
}

/** Pixels within `tol` (per channel) of `hex` inside the box (default: the whole image). */
export function countColour(
  p: DecodedPng,
  hex: string,
  tol = 24,
  box = { x0: 0, y0: 0, x1: p.width, y1: p.height },
): number {
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let y = box.y0; y < box.y1; y++)
    for (let x = box.x0; x < box.x1; x++) {
      const c = rgbAt(p, x, y);
      if (Math.abs(c[0] - want[0]!) <= tol && Math.abs(c[1] - want[1]!) <= tol && Math.abs(c[2] - want[2]!) <= tol) n++;
    }
  return n;
}

/** Pixels in the box that are not (near) white: ink. */
export function inkIn(p: DecodedPng, box: { x0: number; y0: number; x1: number; y1: number }): number {
  let n = 0;
  for (let y = box.y0; y < box.y1; y++)
    for (let x = box.x0; x < box.x1; x++) {
      const c = rgbAt(p, x, y);
      if (c[0] < 235 || c[1] < 235 || c[2] < 235) n++;
    }
  return n;
}

// Attachment bytes as Blobs, with a small cache (rows of a virtual list come and go).
import { api } from './api';

const MAX = 100;
const cache = new Map<string, Promise<Blob>>();

export function toBytes(data: unknown): Uint8Array<ArrayBuffer> {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(0) as ArrayBuffer);
  if (Array.isArray(data)) return new Uint8Array(data as number[]);
  return new Uint8Array(0);
}

/** The type a Blob of an attachment gets: a raster image the webview may show keeps its type;
 * anything else (HTML, SVG, PDF, text…) is `application/octet-stream`, so the webview never
 * renders or runs it, only saves it. */
export function blobType(mime: string): string {
  return isPreviewable(mime) ? mime.toLowerCase() : 'application/octet-stream';
}

/** An attachment (or its 320 px PNG thumbnail) as a Blob ({@link blobType}). */
export function attachmentBlob(id: number, thumbnail: boolean, mime: string): Promise<Blob> {
  const key = `${id}:${thumbnail ? 't' : 'f'}`;
  const hit = cache.get(key);
  if (hit != null) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const p = api
    .attachment(id, thumbnail)
    .then((data) => new Blob([toBytes(data)], { type: thumbnail ? 'image/png' : blobType(mime) }));
  p.catch(() => cache.delete(key));
  cache.set(key, p);
  if (cache.size > MAX) {
    const oldest = cache.keys().next().value;
    if (oldest != null) cache.delete(oldest);
  }
  return p;
}

/** Images the webview may show (not SVG: it can carry scripts). */
export function isPreviewable(mime: string): boolean {
  return /^image\/(png|jpeg|gif|webp|avif|bmp)$/i.test(mime);
}

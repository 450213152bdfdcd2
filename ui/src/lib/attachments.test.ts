import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import { attachmentBlob, blobType } from './attachments';

describe('attachment blobs', () => {
  it('keep the type of raster images only', () => {
    expect(blobType('image/png')).toBe('image/png');
    expect(blobType('image/JPEG')).toBe('image/jpeg');
    for (const mime of ['text/html', 'image/svg+xml', 'application/pdf', 'text/plain', 'application/xhtml+xml']) {
      expect(blobType(mime)).toBe('application/octet-stream');
    }
  });

  it('are made as octet streams for anything the webview could render', async () => {
    mockIPC((cmd) => (cmd === 'attachment' ? [60, 104, 49, 62] : null));
    const html = await attachmentBlob(7, false, 'text/html');
    expect(html.type).toBe('application/octet-stream');
    const png = await attachmentBlob(8, false, 'image/png');
    expect(png.type).toBe('image/png');
  });
});

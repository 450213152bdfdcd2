// Attachments and avatars over the HTTP API: uploads with the browser's upload progress,
// downloads as bytes (the API wants the token in a header, so an <img src> cannot use it).
import type { UploadProgress } from '../bindings';
import { CommandError } from './errors';

async function failure(res: Response): Promise<CommandError> {
  try {
    const body = (await res.json()) as { code?: string; message?: string };
    return new CommandError({ code: body.code ?? 'bad_response', message: body.message ?? res.statusText });
  } catch {
    return new CommandError({ code: 'bad_response', message: `${res.status} ${res.statusText}` });
  }
}

/** GETs a path of the server as bytes, with the token (or the cookie). */
export async function fetchBytes(path: string, token: string | null): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await fetch(path, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      credentials: token ? 'omit' : 'same-origin',
    });
  } catch (err) {
    throw new CommandError({ code: 'network', message: `the server could not be reached: ${String(err)}` });
  }
  if (!res.ok) throw await failure(res);
  return res.arrayBuffer();
}

/** `POST /api/attachments?name=`: the file as the body; progress as the browser reports it. */
export function uploadFile(
  file: Blob & { name?: string },
  token: string | null,
  onProgress: (p: UploadProgress) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const name = encodeURIComponent(file.name ?? 'file');
    xhr.open('POST', `/api/attachments?name=${name}`);
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    else xhr.withCredentials = true;
    const total = file.size;
    onProgress({ sent: 0, total });
    xhr.upload.onprogress = (e) => onProgress({ sent: e.loaded, total: e.lengthComputable ? e.total : total });
    xhr.onerror = () => reject(new CommandError({ code: 'network', message: 'the upload was cut off' }));
    xhr.onload = () => {
      let body: { id?: number; code?: string; message?: string } = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // Not JSON: the status says what happened.
      }
      if (xhr.status >= 200 && xhr.status < 300 && typeof body.id === 'number') {
        onProgress({ sent: total, total });
        resolve(body.id);
      } else {
        reject(new CommandError({ code: body.code ?? 'bad_response', message: body.message ?? `upload refused (${xhr.status})` }));
      }
    };
    xhr.send(file);
  });
}

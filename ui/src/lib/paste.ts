// Files in a clipboard paste, named for the attachment list (a pasted screenshot has no name
// of its own, or a generic one such as "image.png").

const GENERIC = /^(image|clipboard|blob|untitled)?(\.[a-z0-9]+)?$/i;

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/bmp': 'bmp',
};

function stamp(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())} ${p(now.getHours())}.${p(now.getMinutes())}.${p(now.getSeconds())}`;
}

/** The files of a paste (`clipboardData.files`, or its file items), each with a name: a
 * nameless or generically named image becomes "Pasted image 2025-05-02 17.45.12.png". */
export function pastedFiles(data: DataTransfer, now: Date = new Date()): File[] {
  let files = [...(data.files ?? [])];
  if (files.length === 0) {
    files = [...(data.items ?? [])]
      .filter((item) => item.kind === 'file')
      .map((item) => item.getAsFile())
      .filter((f): f is File => f != null);
  }
  return files.map((file, i) => {
    if (!GENERIC.test(file.name)) return file;
    const ext = EXTENSIONS[file.type.toLowerCase()] ?? (file.name.includes('.') ? file.name.split('.').pop() : 'bin');
    const n = files.length > 1 ? ` (${i + 1})` : '';
    const kind = file.type.startsWith('image/') ? 'Pasted image' : 'Pasted file';
    return new File([file], `${kind} ${stamp(now)}${n}.${ext}`, { type: file.type, lastModified: file.lastModified });
  });
}

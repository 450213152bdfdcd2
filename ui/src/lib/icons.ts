// Line icons drawn as SVG paths (24×24, stroked with currentColor): no icon font, no emoji
// glyphs that a system may lack.
const c = (cx: number, cy: number, r: number) =>
  `M${cx - r} ${cy}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;

export const ICONS = {
  search: [c(11, 11, 7), 'M21 21l-4.35-4.35'],
  plus: ['M12 5v14M5 12h14'],
  lock: ['M7 11h10a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2v-6a2 2 0 0 1 2-2z', 'M8 11V7a4 4 0 0 1 8 0v4'],
  doc: ['M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z', 'M14 3v5h5', 'M9 13h6M9 17h6'],
  file: ['M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z', 'M14 3v5h5'],
  settings: ['M4 7h9M19 7h1M4 17h3M13 17h7', c(16, 7, 2.5), c(10, 17, 2.5)],
  bell: ['M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9', 'M10.3 21a1.94 1.94 0 0 0 3.4 0'],
  bellOff: ['M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9', 'M10.3 21a1.94 1.94 0 0 0 3.4 0', 'M3 3l18 18'],
  speaker: ['M11 5L6 9H2v6h4l5 4V5z', 'M15.5 8.5a5 5 0 0 1 0 7', 'M18.5 5.5a9 9 0 0 1 0 13'],
  speakerOff: ['M11 5L6 9H2v6h4l5 4V5z', 'M22 9l-6 6M16 9l6 6'],
  users: [c(9, 8, 4), 'M2 21v-1a6 6 0 0 1 12 0v1', 'M16 4.13a4 4 0 0 1 0 7.75', 'M22 21v-1a6 6 0 0 0-4-5.65'],
  paperclip: ['M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48'],
  send: ['M22 2L11 13', 'M22 2l-7 20-4-9-9-4z'],
  smile: [c(12, 12, 10), 'M8 14s1.5 2 4 2 4-2 4-2', 'M9 9h.01M15 9h.01'],
  reply: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z'],
  edit: ['M12 20h9', 'M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z'],
  trash: ['M3 6h18', 'M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6', 'M10 11v6M14 11v6', 'M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2'],
  close: ['M18 6L6 18M6 6l12 12'],
  clock: [c(12, 12, 9), 'M12 7v5l3 2'],
  down: ['M12 5v14M19 12l-7 7-7-7'],
  chart: ['M3 3v18h18', 'M7 15l4-4 3 3 6-7'],
  hash: ['M4 9h16M4 15h16M10 3L8 21M16 3l-2 18'],
} as const;

export type IconName = keyof typeof ICONS;

/** Each icon as one path (its strokes as subpaths): an icon is one `<path>` element, not one
 * per stroke, which matters for the icons every message row carries. */
export const ICON_PATHS = Object.fromEntries(
  Object.entries(ICONS).map(([name, strokes]) => [name, strokes.join(' ')]),
) as Record<IconName, string>;

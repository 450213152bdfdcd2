// A person's colour for carets, selections and avatars: derived from the user name only, so every
// client paints the same person the same way without asking anyone.

/** FNV-1a, 32 bits: small, stable and spreads similar names apart. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function hslToHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + h / 30) % 12;
    const value = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

/** `#rrggbb` (the only form the collaboration caret accepts), readable on light and dark. */
export function userColor(name: string): string {
  const h = hash(name.toLowerCase());
  const hue = h % 360;
  const saturation = 0.55 + ((h >>> 9) % 20) / 100; // 0.55 .. 0.74
  const lightness = 0.42 + ((h >>> 17) % 10) / 100; // 0.42 .. 0.51
  return hslToHex(hue, saturation, lightness);
}

// Theme: `system` follows prefers-color-scheme; the resolved one goes in <html data-theme>.
let media: MediaQueryList | null = null;
let current = 'system';

function resolve(theme: string): 'light' | 'dark' {
  if (theme === 'light' || theme === 'dark') return theme;
  return media?.matches === true ? 'dark' : 'light';
}

function apply(): void {
  document.documentElement.dataset.theme = resolve(current);
}

export function setTheme(theme: string): void {
  current = theme;
  if (media == null && typeof window.matchMedia === 'function') {
    media = window.matchMedia('(prefers-color-scheme: dark)');
    media.addEventListener('change', apply);
  }
  apply();
}

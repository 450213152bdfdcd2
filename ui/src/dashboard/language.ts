// uPlot builds a number format from `navigator.language` when it loads, and that throws for a
// tag that is not BCP 47: WebKitGTK reports the POSIX locale as is, so under `LANG=C` the
// webview's language is "C" and the chart library would not load. Imported before uPlot, this
// replaces an unusable language with the first usable one the webview lists (or en-US).

/** The first tag `Intl` accepts, or "en-US". */
export function usableLanguage(tags: readonly string[]): string {
  for (const tag of tags) {
    try {
      new Intl.NumberFormat(tag);
      return tag;
    } catch {
      // not a language tag (C, POSIX, en_US.UTF-8, ...)
    }
  }
  return 'en-US';
}

const nav = globalThis.navigator;
if (nav != null) {
  const language = usableLanguage([nav.language, ...(nav.languages ?? [])]);
  if (language !== nav.language) {
    try {
      Object.defineProperty(nav, 'language', { value: language, configurable: true });
    } catch {
      // A webview that forbids it: the chart will say it could not load.
    }
  }
}

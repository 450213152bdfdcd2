import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

// A file of this repository by its absolute path (the ids resolveId sees).
const here = (path: string) => decodeURIComponent(new URL(path, import.meta.url).pathname);
const sdk = here('../sdk/js/src/index.ts');

/** Desktop modules (on Tauri) and their web counterparts. */
const WEB_SWAPS: Record<string, string> = {
  [here('./src/lib/api.ts')]: here('./src/lib/web/api.ts'),
  [here('./src/lib/links.ts')]: here('./src/lib/web/links.ts'),
  [here('./src/lib/dragdrop.ts')]: here('./src/lib/web/dragdrop.ts'),
};

/** The web build (`vite build --mode web`): every import of a desktop module gets its web
 * counterpart instead (src/lib/web/, on the SDK), so no Tauri code is bundled. */
function webSwaps(): Plugin {
  return {
    name: 'parley-web-swaps',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!/(^|\/)(api|links|dragdrop)(\.ts)?$/.test(source)) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved != null ? (WEB_SWAPS[resolved.id] ?? null) : null;
    },
  };
}

// The UI, built into dist/ for the app (which embeds it), and with `--mode web` into
// dist-web/ for browsers (parley-server serves it at /).
// Vitest runs with mode "test": Svelte resolves to its browser build there.
export default defineConfig(({ mode }) => {
  const web = mode === 'web';
  return {
    plugins: [...(web ? [webSwaps()] : []), svelte()],
    clearScreen: false,
    base: '/',
    server: { port: 5199, strictPort: true, fs: { allow: ['..'] } },
    build: {
      target: 'safari15',
      outDir: web ? 'dist-web' : 'dist',
      emptyOutDir: true,
      chunkSizeWarningLimit: 2000,
      rolldownOptions: {
        // ASCII only (other characters as \u escapes): WebKit keeps a script's source text in
        // memory for as long as the page lives, as Latin-1 when every character fits, else as
        // UTF-16 at twice the size (one `…` or one of markdown-it's entity tables is enough).
        output: { charset: 'ascii' },
      },
    },
    resolve: {
      alias: { '@parley/client': sdk },
      ...(mode === 'test' ? { conditions: ['browser'] } : {}),
    },
    test: {
      environment: 'jsdom',
      include: ['src/**/*.test.ts'],
      setupFiles: ['src/test-setup.ts'],
    },
  };
});

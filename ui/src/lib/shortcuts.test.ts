/// <reference types="vite/client" />
// The shortcuts help and docs/app.md §4 list the same keys.
import { describe, expect, it } from 'vitest';
import doc from '../../../docs/app.md?raw';
import { SHORTCUTS } from './shortcuts';

describe('shortcuts', () => {
  it('are all in docs/app.md §4', () => {
    const section = doc.slice(doc.indexOf('## 4. Keyboard shortcuts'), doc.indexOf('## 5.'));
    const documented = new Set(
      section
        .split('\n')
        .filter((l) => l.startsWith('| ') && !l.startsWith('| Keys'))
        .map((l) => l.split('|')[1].trim()),
    );
    const missing = SHORTCUTS.flatMap((g) => g.items.map((s) => s.keys)).filter((k) => !documented.has(k));
    expect(missing).toEqual([]);
    expect(documented.size).toBeGreaterThan(10);
  });
});

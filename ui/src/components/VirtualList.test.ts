// The virtual list in jsdom (no layout: rows take their estimated heights, the viewport the
// fallback height): which rows it renders, and that it opens at the bottom without rendering
// the top of the list first.
import { render } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import { describe, expect, it } from 'vitest';
import VirtualList from './VirtualList.svelte';

/** `n` rows of 20 px and a log of every row rendered. */
function list(n: number, overscan?: number) {
  const items = Array.from({ length: n }, (_, i) => i);
  const created: number[] = [];
  const row = createRawSnippet((item: () => number) => ({
    render: () => {
      created.push(item());
      return `<span class="r">row ${item()}</span>`;
    },
  }));
  const result = render(VirtualList<number>, {
    props: { items, getKey: (i: number) => `k${i}`, estimate: () => 20, row, label: 'Rows', overscan },
  });
  const keys = () => [...result.container.querySelectorAll<HTMLElement>('[data-row]')].map((e) => e.dataset.key);
  return { created, keys };
}

describe('VirtualList', () => {
  it('opens at the bottom: the newest rows and the overscan above them, never the top', () => {
    const { created, keys } = list(10_000);
    // 800 px of fallback viewport and 400 px of overscan above it: 60 rows of 20 px (+1).
    const shown = keys();
    expect(shown[shown.length - 1]).toBe('k9999');
    expect(shown.length).toBeGreaterThanOrEqual(60);
    expect(shown.length).toBeLessThanOrEqual(62);
    expect(Math.min(...created)).toBeGreaterThanOrEqual(10_000 - 62);
    expect(created.length).toBe(shown.length);
  });

  it('renders the overscan it is given', () => {
    const { keys } = list(10_000, 100);
    // 800 + 100 px: 45 rows (+1).
    expect(keys().length).toBeGreaterThanOrEqual(45);
    expect(keys().length).toBeLessThanOrEqual(47);
  });

  it('renders every row of a list shorter than its view', () => {
    const { keys } = list(5);
    expect(keys()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
  });
});

import { render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnalyticsHistory, AppEvent } from '../lib/api';
import { emitAppEvent } from '../lib/events';
import { dashboard, MAX_SAMPLES, type Metrics } from '../lib/stores/dashboard.svelte';
import DashboardView from './DashboardView.svelte';

// uPlot draws on a canvas, which jsdom has not: a stand-in records what it was given.
const plots = vi.hoisted(() => [] as { data: unknown[][]; destroyed: boolean }[]);
vi.mock('uplot', () => ({
  default: class {
    record: { data: unknown[][]; destroyed: boolean };
    constructor(_opts: unknown, data: unknown[][]) {
      this.record = { data, destroyed: false };
      plots.push(this.record);
    }
    setData(data: unknown[][]) {
      this.record.data = data;
    }
    setSize() {}
    destroy() {
      this.record.destroyed = true;
    }
  },
}));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));
globalThis.ResizeObserver ??= class {
  observe() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

function metrics(at: number, patch: Partial<Metrics> = {}): Metrics {
  return {
    at,
    window_secs: 60,
    interval_secs: 30,
    active_users: 2,
    connections: 3,
    messages: 0,
    events: 0,
    send_latency_ms: { avg: null, p95: null, sends: 0 },
    errors: 0,
    rate_limited: 0,
    webhook_backlog: 0,
    ...patch,
  };
}

function update(seq: number, data: Metrics, channel = 'admin-dashboard'): AppEvent {
  return {
    kind: 'client',
    event: {
      kind: 'custom',
      channel,
      seq,
      event: 'metrics_update',
      data,
      publisher: { id: 0, name: 'parley', display_name: 'Parley', avatar: null },
    },
  };
}

function value(key: string): string {
  return screen.getByTestId(`stat-${key}`).querySelector('[data-testid=stat-value]')!.textContent!;
}

beforeEach(() => {
  dashboard.clear();
  plots.length = 0;
});

describe('Dashboard', () => {
  it('draws the stored updates and moves with the live ones', async () => {
    const t = Date.now() - 60_000;
    const history: AnalyticsHistory = {
      channel: 'admin-dashboard',
      interval_ms: 30_000,
      samples: [
        { seq: 4, data: metrics(t, { messages: 1 }) },
        { seq: 6, data: metrics(t + 30_000, { messages: 7, send_latency_ms: { avg: 1.234, p95: 12.5, sends: 7 } }) },
      ],
    };
    mockIPC((cmd) => {
      if (cmd === 'dashboard') return history;
      throw { code: 'internal', message: `unexpected ${cmd}` };
    });
    render(DashboardView);
    await waitFor(() => expect(value('messages')).toBe('7'));
    expect(value('latency')).toBe('1.23 / 12.5 ms');
    expect(value('connections')).toBe('3');
    expect(screen.getByTestId('dashboard-updated').textContent).toContain('every 30 s');
    expect(plots).toHaveLength(3);
    expect(plots[0]!.data[0]).toEqual([t / 1000, t / 1000 + 30]);
    expect(plots[0]!.data[1]).toEqual([1, 7]);

    // A live update: the numbers and the charts move; a repeat and another channel's do not.
    emitAppEvent(update(7, metrics(t + 60_000, { messages: 12, errors: 2 })));
    await waitFor(() => expect(value('messages')).toBe('12'));
    expect(value('errors')).toBe('2');
    await waitFor(() => expect(plots[0]!.data[1]).toEqual([1, 7, 12]));
    emitAppEvent(update(7, metrics(t + 60_000, { messages: 99 })));
    emitAppEvent(update(8, metrics(t + 90_000, { messages: 50 }), 'elsewhere'));
    expect(dashboard.samples.map((s) => s.seq)).toEqual([4, 6, 7]);
    expect(value('messages')).toBe('12');
  });

  it('tells a member there is nothing to see, and says when analytics are off', async () => {
    mockIPC(() => {
      throw { code: 'forbidden', message: 'only workspace admins see the analytics' };
    });
    render(DashboardView);
    await waitFor(() => expect(screen.getByTestId('dashboard-unavailable')).toBeTruthy());
    expect(dashboard.available).toBe(false);
    expect(screen.getByTestId('dashboard-unavailable').textContent).toContain('admins');

    dashboard.clear();
    mockIPC(() => {
      throw { code: 'analytics_disabled', message: 'off' };
    });
    await dashboard.load();
    await waitFor(() =>
      expect(screen.getByTestId('dashboard-unavailable').textContent).toContain('off on this server'),
    );
  });

  it('waits for the first update, and keeps a bounded number of them', async () => {
    mockIPC(() => ({ channel: 'admin-dashboard', interval_ms: 1000, samples: [] }));
    render(DashboardView);
    await waitFor(() => expect(screen.getByTestId('dashboard-waiting').textContent).toContain('every 1 s'));
    const many = Array.from({ length: MAX_SAMPLES + 50 }, (_, i) => ({ seq: i + 1, data: metrics(i * 1000) }));
    dashboard.add(many.reverse());
    expect(dashboard.samples).toHaveLength(MAX_SAMPLES);
    expect(dashboard.samples[0]!.seq).toBe(51);
    expect(dashboard.latest!.seq).toBe(MAX_SAMPLES + 50);
  });
});

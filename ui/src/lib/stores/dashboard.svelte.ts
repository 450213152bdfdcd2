// The admins' Dashboard: the server's live analytics (`metrics_update` events on its analytics
// channel). `load` reads the stored updates (and makes the app follow the channel); every
// later update arrives as a `custom` app event and is added here, once per seq.
import { api, type AnalyticsHistory, type AppEvent } from '../api';
import { errorCode, errorText } from '../actions';
import { onAppEvent } from '../events';

/** The numbers of one update (see docs/integrations.md, "Live analytics"). */
export type Metrics = {
  at: number;
  window_secs: number;
  interval_secs: number;
  active_users: number;
  connections: number;
  messages: number;
  events: number;
  send_latency_ms: { avg: number | null; p95: number | null; sends: number };
  errors: number;
  rate_limited: number;
  webhook_backlog: number;
};

export type Sample = { seq: number; data: Metrics };

/** The most updates kept in memory (a day at 2 minutes, two hours at 10 s). */
export const MAX_SAMPLES = 720;

function asMetrics(data: unknown): Metrics | null {
  if (data == null || typeof data !== 'object') return null;
  const d = data as Partial<Metrics>;
  if (typeof d.at !== 'number' || typeof d.connections !== 'number') return null;
  return d as Metrics;
}

export class DashboardState {
  /** null until known; false for a member, or when the server's analytics are off. */
  available = $state<boolean | null>(null);
  channel = $state<string | null>(null);
  intervalMs = $state(30_000);
  samples = $state.raw<Sample[]>([]);
  error = $state<string | null>(null);
  loading = $state(false);

  /** Adds updates (any order, repeats ignored), oldest first, at most MAX_SAMPLES. */
  add(more: Sample[]): void {
    const bySeq = new Map(this.samples.map((s) => [s.seq, s]));
    let changed = false;
    for (const s of more) {
      if (!bySeq.has(s.seq)) {
        bySeq.set(s.seq, s);
        changed = true;
      }
    }
    if (!changed) return;
    const all = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    this.samples = all.slice(Math.max(0, all.length - MAX_SAMPLES));
  }

  /** The newest update, if any. */
  get latest(): Sample | null {
    return this.samples.length > 0 ? this.samples[this.samples.length - 1] : null;
  }

  apply(history: AnalyticsHistory): void {
    this.available = true;
    this.error = null;
    this.channel = history.channel;
    this.intervalMs = history.interval_ms;
    const samples: Sample[] = [];
    for (const s of history.samples) {
      const data = asMetrics(s.data);
      if (data != null) samples.push({ seq: s.seq, data });
    }
    this.add(samples);
  }

  /** An app event: a `metrics_update` on the analytics channel becomes a sample. */
  onEvent(event: AppEvent): void {
    if (event.kind !== 'client') return;
    const ev = event.event;
    if (ev.kind !== 'custom' || ev.event !== 'metrics_update' || ev.seq == null) return;
    if (this.channel != null && ev.channel !== this.channel) return;
    const data = asMetrics(ev.data);
    if (data != null) this.add([{ seq: ev.seq, data }]);
  }

  async load(): Promise<void> {
    this.loading = true;
    try {
      this.apply(await api.dashboard());
    } catch (err) {
      const code = errorCode(err);
      if (code === 'forbidden' || code === 'analytics_disabled') {
        this.available = false;
        this.error = code === 'analytics_disabled' ? 'Live analytics are off on this server.' : null;
      } else {
        this.error = errorText(err);
      }
    } finally {
      this.loading = false;
    }
  }

  clear(): void {
    this.available = null;
    this.channel = null;
    this.samples = [];
    this.error = null;
  }
}

export const dashboard = new DashboardState();
onAppEvent((event) => dashboard.onEvent(event));

import { describe, expect, it } from 'vitest';
import { current, describe as say, expiry } from './status';

describe('status', () => {
  const noon = new Date(2026, 11, 6, 12, 0, 0);

  it('expires after the chosen time, at midnight for today, or never', () => {
    expect(expiry('never', noon)).toBeNull();
    expect(expiry('30m', noon)).toBe(noon.getTime() + 30 * 60_000);
    expect(expiry('4h', noon)).toBe(noon.getTime() + 4 * 3_600_000);
    expect(expiry('today', noon)).toBe(new Date(2026, 11, 7, 0, 0, 0).getTime());
  });

  it('an expired status is no status', () => {
    const away = { status: 'away', text: 'lunch', until: noon.getTime() };
    expect(current(away, noon.getTime() - 1)).toEqual(away);
    expect(current(away, noon.getTime())).toBeNull();
    expect(say(away, noon.getTime() + 1)).toBe('Active');
    expect(say({ status: 'dnd', text: null, until: null })).toBe('Do not disturb');
    expect(say({ status: 'away', text: 'lunch', until: null })).toBe('Away — lunch');
  });
});

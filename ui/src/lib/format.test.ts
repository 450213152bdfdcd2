import { describe, expect, it } from 'vitest';
import { chosenName, displayName } from './format';

const user = (name: string, display_name: string | null) => ({ id: 1, name, display_name, avatar: null });

describe('who someone is', () => {
  it('shows the user name beside a display name that differs', () => {
    expect(displayName(user('alice', 'Alice Smith'))).toBe('Alice Smith (@alice)');
    // A newcomer who chose another person's name cannot pass for them.
    expect(displayName(user('mallory', 'alice'))).toBe('alice (@mallory)');
    expect(chosenName(user('mallory', ' alice '))).toBe('alice');
  });

  it('shows the user name alone when there is nothing else to show', () => {
    expect(displayName(user('alice', null))).toBe('alice');
    expect(displayName(user('alice', ''))).toBe('alice');
    expect(displayName(user('alice', '  '))).toBe('alice');
    expect(displayName(user('alice', 'alice'))).toBe('alice');
    expect(chosenName(user('alice', 'alice'))).toBeNull();
    expect(displayName(null)).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import { CHANNEL_NAME_PATTERN, DOC_NAME_PATTERN, USER_NAME_PATTERN } from './rules';

// The same examples as parley_protocol::names' tests: the generated patterns must say what the
// Rust functions say, or the UI would refuse names the server takes (or the other way round).
describe('generated name rules', () => {
  it('user names', () => {
    for (const good of ['alice', 'a', 'Bob_2', 'x.y-z', 'a'.repeat(40)]) {
      expect(USER_NAME_PATTERN.test(good), good).toBe(true);
    }
    for (const bad of ['', 'al ice', '.alice', '-a', 'é', 'a/b', 'a'.repeat(41)]) {
      expect(USER_NAME_PATTERN.test(bad), bad).toBe(false);
    }
  });

  it('document names', () => {
    for (const good of ['plan', 'a', 'Q3-plan_v2.md', '-x', '_', 'd'.repeat(100)]) {
      expect(DOC_NAME_PATTERN.test(good), good).toBe(true);
    }
    for (const bad of ['', '.hidden', 'a b', 'a/b', 'é', 'a:b', 'd'.repeat(101)]) {
      expect(DOC_NAME_PATTERN.test(bad), bad).toBe(false);
    }
  });

  it('channel names', () => {
    for (const good of ['general', 'team:general', 'ops:alerts.prod', 'a-b_c', '0', 'c'.repeat(100)]) {
      expect(CHANNEL_NAME_PATTERN.test(good), good).toBe(true);
    }
    const bad = ['', 'General', 'a b', ':a', 'a:', 'a::b', '@me', 'inbox#42', 'é', 'c'.repeat(101)];
    for (const name of bad) {
      expect(CHANNEL_NAME_PATTERN.test(name), name).toBe(false);
    }
  });
});

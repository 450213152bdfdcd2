import { describe, expect, it } from 'vitest';
import { usableLanguage } from './language';

describe('usableLanguage', () => {
  it('keeps a usable tag and skips POSIX locale names', () => {
    expect(usableLanguage(['de-CH', 'en'])).toBe('de-CH');
    expect(usableLanguage(['C', 'fr'])).toBe('fr');
    expect(usableLanguage(['en_US.UTF-8'])).toBe('en-US');
    expect(usableLanguage(['C'])).toBe('en-US');
    expect(usableLanguage([])).toBe('en-US');
  });
});

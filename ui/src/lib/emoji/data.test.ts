import { beforeEach, describe, expect, it } from 'vitest';
import { loadEmoji, normalizeEmoji, searchEmoji, shortcodeMatches, withTone } from './data';
import { RECENT_MAX, recentEmoji, rememberEmoji, setSkinTone, skinTone } from './recent';

describe('emoji data (emojibase)', () => {
  it('loads the bundled list with groups, shortcodes and skin tones', async () => {
    const data = await loadEmoji();
    expect(data.list.length).toBeGreaterThan(1800);
    expect(data.groups.map((g) => g.name)).toContain('Smileys & emotion');
    expect(data.groups.some((g) => g.name === 'Components')).toBe(false);
    const up = data.byShortcode.get('thumbsup');
    expect(up?.emoji).toBe('👍');
    expect(data.byShortcode.get('+1')).toBe(up);
    expect(up && withTone(up, 5)).toBe('👍🏿');
    expect(up && withTone(up, 0)).toBe('👍');
    expect(data.byShortcode.get('heart')?.emoji).toBe('❤️');
    expect(data.byShortcode.get('tada')?.emoji).toBe('🎉');
  });

  it('keeps U+FE0F only where the character needs it', () => {
    expect(normalizeEmoji('👍\uFE0F')).toBe('👍');
    expect(normalizeEmoji('❤\uFE0F')).toBe('❤\uFE0F');
    expect(normalizeEmoji('🏳\uFE0F\u200D🌈')).toBe('🏳\uFE0F\u200D🌈');
  });

  it('searches names, keywords and shortcodes, best first', async () => {
    const data = await loadEmoji();
    expect(searchEmoji(data, 'thumbsup')[0].emoji).toBe('👍');
    expect(searchEmoji(data, 'thumbs').map((e) => e.emoji).slice(0, 2)).toEqual(['👍', '👎']);
    expect(searchEmoji(data, 'party').map((e) => e.emoji)).toContain('🎉');
    expect(searchEmoji(data, 'red heart')[0].emoji).toBe('❤️');
    expect(searchEmoji(data, 'qqqzzz')).toEqual([]);
    expect(searchEmoji(data, '  ')).toEqual([]);
  });

  it('completes shortcodes by prefix first', async () => {
    const data = await loadEmoji();
    const m = shortcodeMatches(data, 'thu');
    expect(m[0]).toMatchObject({ code: 'thumbsup' });
    expect(m.map((x) => x.code)).toContain('thumbsdown');
    expect(m.length).toBeLessThanOrEqual(8);
  });
});

describe('recent emoji and skin tone', () => {
  beforeEach(() => localStorage.clear());

  it('keeps the most recent first, without repeats, at most RECENT_MAX', () => {
    expect(recentEmoji()).toEqual([]);
    rememberEmoji('👍');
    rememberEmoji('🎉');
    rememberEmoji('👍');
    expect(recentEmoji()).toEqual(['👍', '🎉']);
    for (let i = 0; i < 40; i++) rememberEmoji(String(i));
    expect(recentEmoji()).toHaveLength(RECENT_MAX);
    localStorage.setItem('parley.emoji.recent', 'not json');
    expect(recentEmoji()).toEqual([]);
  });

  it('remembers the skin tone', () => {
    expect(skinTone()).toBe(0);
    setSkinTone(3);
    expect(skinTone()).toBe(3);
    localStorage.setItem('parley.emoji.tone', '9');
    expect(skinTone()).toBe(0);
  });
});

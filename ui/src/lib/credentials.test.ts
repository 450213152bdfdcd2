import { describe, expect, it } from 'vitest';
import { passwordProblem, userNameProblem } from './credentials';
import { USER_NAME_PATTERN } from './rules';

describe('user name check', () => {
  it('accepts exactly what the generated rule accepts', () => {
    const samples = ['alice', 'a', 'Bob_2', 'x.y-z', 'a'.repeat(40), '', 'al ice', '.alice', '-a', 'é', 'a/b', 'a'.repeat(41), '_x', 'x_', '9lives', 'a\tb'];
    for (const name of samples) expect(userNameProblem(name) == null, name).toBe(USER_NAME_PATTERN.test(name));
  });

  it('says which rule failed', () => {
    expect(userNameProblem('')).toBe('Enter a user name.');
    expect(userNameProblem('john smith')).toBe('A user name cannot contain spaces: only letters a–z and A–Z, digits, “-”, “_” and “.”.');
    expect(userNameProblem('josé/b')).toBe('A user name cannot contain “é” or “/”: only letters a–z and A–Z, digits, “-”, “_” and “.”.');
    expect(userNameProblem('.hidden')).toBe('A user name starts with a letter or a digit, not “.”.');
    expect(userNameProblem('_x')).toBe('A user name starts with a letter or a digit, not “_”.');
    expect(userNameProblem('a'.repeat(45))).toBe('A user name has at most 40 characters; this one has 45.');
  });
});

describe('password check', () => {
  it('takes 8 to 1024 characters, counted as the server counts them', () => {
    expect(passwordProblem('')).toBe('Enter a password.');
    expect(passwordProblem('short')).toBe('A password has at least 8 characters; this one has 5.');
    expect(passwordProblem('12345678')).toBeNull();
    // Seven emoji are 14 UTF-16 units but 7 characters: still too short.
    expect(passwordProblem('🔑'.repeat(7))).toBe('A password has at least 8 characters; this one has 7.');
    expect(passwordProblem('x'.repeat(1024))).toBeNull();
    expect(passwordProblem('x'.repeat(1025))).toBe('A password has at most 1024 characters; this one has 1025.');
  });
});

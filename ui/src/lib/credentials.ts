// A new account's user name and password checked in the form before the server is asked, with
// a message that says which rule failed. The user name rule is the generated one (rules.ts,
// from the protocol crate): a name is accepted exactly when USER_NAME_PATTERN matches, and only
// the wording of a refusal is worked out here. Passwords are 8–1024 characters (Unicode scalar
// values, as the server counts; protocol.md §12).
import { USER_NAME_MAX_LENGTH, USER_NAME_PATTERN, USER_NAME_RULE } from './rules';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

const ALLOWED = /[A-Za-z0-9_.-]/;

function quoteChars(chars: string[]): string {
  const names = chars.map((c) => (c === ' ' ? 'spaces' : `“${c}”`));
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** Why a new account's user name would be refused, or null when the server takes it. */
export function userNameProblem(name: string): string | null {
  if (USER_NAME_PATTERN.test(name)) return null;
  const chars = [...name];
  if (chars.length === 0) return 'Enter a user name.';
  const bad = [...new Set(chars.filter((c) => !ALLOWED.test(c)))];
  if (bad.length > 0) {
    return `A user name cannot contain ${quoteChars(bad)}: only letters a–z and A–Z, digits, “-”, “_” and “.”.`;
  }
  if (!/[A-Za-z0-9]/.test(chars[0])) return `A user name starts with a letter or a digit, not “${chars[0]}”.`;
  if (chars.length > USER_NAME_MAX_LENGTH) {
    return `A user name has at most ${USER_NAME_MAX_LENGTH} characters; this one has ${chars.length}.`;
  }
  return `${USER_NAME_RULE.charAt(0).toUpperCase()}${USER_NAME_RULE.slice(1)}.`;
}

/** Why a new password would be refused, or null when the server takes it. */
export function passwordProblem(password: string): string | null {
  const n = [...password].length;
  if (n === 0) return 'Enter a password.';
  if (n < PASSWORD_MIN_LENGTH) {
    return `A password has at least ${PASSWORD_MIN_LENGTH} characters; this one has ${n}.`;
  }
  if (n > PASSWORD_MAX_LENGTH) {
    return `A password has at most ${PASSWORD_MAX_LENGTH} characters; this one has ${n}.`;
  }
  return null;
}

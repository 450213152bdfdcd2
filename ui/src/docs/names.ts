// Document names (protocol §14.1): 1-100 ASCII letters, digits, `-`, `_`, `.`; not starting
// with `.`. Checked here for a quick answer; the server has the last word.
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

/** Why `name` cannot be a document name, or null when it can. */
export function docNameProblem(name: string): string | null {
  if (name.length === 0) return 'Give the document a name.';
  if (name.length > 100) return 'A name has at most 100 characters.';
  if (name.startsWith('.')) return 'A name cannot start with a dot.';
  if (!NAME.test(name)) return 'Use only letters, digits, “-”, “_” and “.” (no spaces).';
  return null;
}

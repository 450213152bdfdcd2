// Document names: the server's rule (parley_protocol::names, through the generated rules.ts),
// checked here for a quick answer in words; the server has the last word.
import { DOC_NAME_MAX_LENGTH, DOC_NAME_PATTERN } from '../lib/rules';

/** Why `name` cannot be a document name, or null when it can. */
export function docNameProblem(name: string): string | null {
  if (name.length === 0) return 'Give the document a name.';
  if (name.length > DOC_NAME_MAX_LENGTH) return `A name has at most ${DOC_NAME_MAX_LENGTH} characters.`;
  if (name.startsWith('.')) return 'A name cannot start with a dot.';
  if (!DOC_NAME_PATTERN.test(name)) return 'Use only letters, digits, “-”, “_” and “.” (no spaces).';
  return null;
}

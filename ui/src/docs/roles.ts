// A document's roles (DocRole), as the UI names and explains them: a viewer reads, a commenter
// also comments, an editor also edits and saves and restores versions.
import type { DocRole } from '../lib/api';

/** What a role lets one do, for labels and hints. */
export const ROLE_LABELS: Record<DocRole, string> = {
  viewer: 'Viewer',
  commenter: 'Commenter',
  editor: 'Editor',
};

export const ROLE_HINTS: Record<DocRole, string> = {
  viewer: 'can read',
  commenter: 'can read and comment',
  editor: 'can read, comment, edit and save versions',
};

export const ROLES: DocRole[] = ['viewer', 'commenter', 'editor'];

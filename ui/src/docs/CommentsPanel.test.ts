import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Comment } from '../lib/api';
import { alice, bob, docComment } from '../test/fixtures';
import { buildThreads } from './comments';
import CommentsPanel from './CommentsPanel.svelte';

const comment = docComment;

function setup(comments: Comment[]) {
  const onedit = vi.fn(async () => true);
  const ondelete = vi.fn();
  render(CommentsPanel, {
    threads: buildThreads(comments),
    active: null,
    canComment: true,
    draft: null,
    error: null,
    onsubmitdraft: async () => true,
    oncanceldraft: () => {},
    onselect: () => {},
    onreply: async () => true,
    onresolve: () => {},
    onretry: () => {},
    ondiscard: () => {},
    me: alice.id,
    onedit,
    ondelete,
  });
  return { onedit, ondelete };
}

describe('CommentsPanel: own comments', () => {
  it('edits one of your comments', async () => {
    const { onedit } = setup([comment(1, { body: 'Which version?' })]);
    await fireEvent.click(screen.getByTestId('edit-comment'));
    const box = screen.getByTestId('edit-comment-body') as HTMLTextAreaElement;
    expect(box.value).toBe('Which version?');
    await fireEvent.input(box, { target: { value: 'Which version, 2 or 3?' } });
    await fireEvent.click(screen.getByTestId('save-comment'));
    await waitFor(() => expect(onedit).toHaveBeenCalledWith(1, 'Which version, 2 or 3?'));
    await waitFor(() => expect(screen.queryByTestId('edit-comment-body')).toBeNull());
  });

  it('deletes after a confirmation, and offers nothing on other people\u2019s comments', async () => {
    const { ondelete } = setup([comment(1), comment(2, { parent: 1, author: bob, body: 'a reply' })]);
    // Only alice's own comment has the actions.
    expect(screen.getAllByTestId('edit-comment')).toHaveLength(1);
    await fireEvent.click(screen.getByTestId('delete-comment'));
    expect(ondelete).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('confirm-delete-comment'));
    expect(ondelete).toHaveBeenCalledWith(1);
  });
});

// Which panels are open (shortcuts help, search, settings, a thread, the member list).
export class UiState {
  search = $state(false);
  settings = $state(false);
  /** The open thread: its parent channel and root message. */
  thread = $state.raw<{ channel: string; messageId: number; threadChannel?: string } | null>(null);
  members = $state(false);
  /** The sidebar's "new channel" form. */
  newChannel = $state(false);
  /** The keyboard shortcuts help. */
  help = $state(false);

  /** Escape: closes the topmost panel; false when none was open. */
  closeTop(): boolean {
    if (this.help) this.help = false;
    else if (this.search) this.search = false;
    else if (this.settings) this.settings = false;
    else if (this.thread != null) this.thread = null;
    else if (this.members) this.members = false;
    else if (this.newChannel) this.newChannel = false;
    else return false;
    return true;
  }
}

export const ui = new UiState();

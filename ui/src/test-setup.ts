// Vitest: every test starts with no Tauri IPC mock; tests install their own with mockIPC.
// Components rendered by @testing-library/svelte are unmounted after each test.
import { cleanup } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import { afterEach } from 'vitest';

afterEach(() => {
  cleanup();
  clearMocks();
  // The last open channel is remembered in localStorage; every test starts fresh.
  localStorage.clear();
});

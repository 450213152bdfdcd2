// The web app's command errors: the same CommandError the desktop API throws (code + message),
// made from the SDK's ParleyError (the server's stable codes and the SDK's own).
import { ParleyError } from '@parley/client';
import type { AppError } from '../bindings';

/** A refused command: `code` is stable (the server's error codes plus the app's own). */
export class CommandError extends Error {
  code: string;
  constructor(err: AppError) {
    super(err.message);
    this.code = err.code;
  }
}

export function toCommandError(err: unknown): CommandError {
  if (err instanceof CommandError) return err;
  if (err instanceof ParleyError) return new CommandError({ code: err.code, message: err.message });
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    return new CommandError({ code: String(err.code), message: String(err.message) });
  }
  return new CommandError({ code: 'internal', message: err instanceof Error ? err.message : String(err) });
}

/** Runs an action; whatever it throws becomes a CommandError. */
export async function guard<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    throw toCommandError(err);
  }
}

/** What a browser cannot do (hosting a server, reading a file by its path). */
export function unsupported(what: string): Promise<never> {
  return Promise.reject(
    new CommandError({ code: 'unsupported', message: `${what} is not available in the web app` }),
  );
}

export function invalid(message: string): CommandError {
  return new CommandError({ code: 'invalid', message });
}

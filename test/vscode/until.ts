// The VS Code suites' wait: what is awaited said first, as they read; support's waitFor underneath.
import { waitFor } from '../support';

export function until<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  return waitFor(fn, ms, what);
}

// Suite-side half of the UI bridge in codeserver.mjs. The suite runs in the
// extension host, which cannot reach the browser showing the workbench, so it
// writes a request file into $NSX_UI_REQUESTS_DIR and waits for the harness to
// perform it with Playwright and write back NAME.result.json.
//
// Only the code-server harness sets NSX_UI_REQUESTS_DIR; under
// @vscode/test-electron there is no browser to drive, so guard UI tests with
// uiAvailable().

import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface UiAction {
  action: 'click' | 'screenshot' | 'text' | 'press' | 'type' | 'waitFor' | 'reload';
  /** CSS selector (Playwright syntax) for click, text, waitFor, and screenshot of one element. */
  selector?: string;
  /** Absolute .png path for screenshot. */
  path?: string;
  /** Key for press, e.g. 'Enter', 'Control+Shift+P'. */
  key?: string;
  /** Text to type. */
  text?: string;
  /** Frames to enter first, outermost first (a webview's page is `iframe.webview`, then `#active-frame`). */
  frames?: string[];
  /** How long the harness waits for the selector; 10 s by default. */
  timeoutMs?: number;
}

export interface UiResult {
  ok: boolean;
  /** innerText of the element, for 'text'. */
  text?: string;
  error?: string;
}

const POLL_MS = 50;
// Beyond the action's own timeout: time for the harness to notice the request.
const SLACK_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 10_000;

let counter = 0;

export function uiAvailable(): boolean {
  return !!process.env.NSX_UI_REQUESTS_DIR;
}

export async function ui(action: UiAction): Promise<UiResult> {
  const dir = process.env.NSX_UI_REQUESTS_DIR;
  if (!dir) {
    throw new Error(
      'ui(): NSX_UI_REQUESTS_DIR is not set; UI actions need the code-server harness (test/vscode/run.mjs without VSCODE_EXECUTABLE)',
    );
  }
  // No dots in the name: the harness takes NAME.json as a request.
  const name = `${Date.now()}-${process.pid}-${String(counter++).padStart(6, '0')}`;
  const request = path.join(dir, `${name}.json`);
  const result = path.join(dir, `${name}.result.json`);
  await fs.writeFile(`${request}.tmp`, JSON.stringify(action));
  await fs.rename(`${request}.tmp`, request);

  const deadline = Date.now() + (action.timeoutMs ?? DEFAULT_TIMEOUT_MS) + SLACK_MS;
  while (Date.now() < deadline) {
    try {
      const answer = JSON.parse(await fs.readFile(result, 'utf8')) as UiResult;
      await fs.rm(result, { force: true });
      return answer;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`ui(): no answer from the harness for ${JSON.stringify(action)}`);
}

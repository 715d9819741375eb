// What every client of a session does the same way. The first: attaching
// again to a session that outlived its nsxd or its connection.
import { ErrorCodes, TerminalAttachParams, TerminalOpenResult } from './protocol';

const TRIES = 20;

/**
 * terminal/attach, sent again while nsxd answers that the session is busy
 * (another attach of it, from a second window or a reconnect that raced this
 * one, is connecting to its supervisor): busy is never gone.
 */
export async function attachAgain(send: (params: TerminalAttachParams) => Promise<TerminalOpenResult>, params: TerminalAttachParams): Promise<TerminalOpenResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(params);
    } catch (err) {
      // By its code: the extension's errors come from vscode-languageclient's own copy of vscode-jsonrpc.
      if ((err as { code?: unknown }).code !== ErrorCodes.Busy || attempt >= TRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
    }
  }
}

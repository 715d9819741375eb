// nsx --host NAME: a verb against nsxd on another host, over its bridge.
// A terminal there outlives the link (its supervisor is on that host): when
// the link drops, nsx says so and attaches to the same session again once
// the host answers, with what it printed meanwhile (the supervisor keeps it).
import { attach } from './attach';
import { connectHost, HostClient } from '../common/bridge';
import { findHost, HostEntry } from '../common/hosts';
import { TerminalAttachParams, TerminalOpenParams } from '../common/protocol';
import { HELD_FOR_OLD_LINK as HELD, HOLD_MS } from '../common/session';
import { printable } from '../common/format';

/** The host named by --host, else $NSX_HOST; undefined for this one. */
export function chosenHost(option: string | undefined): HostEntry | undefined {
  const name = option ?? process.env.NSX_HOST;
  return name ? findHost(name) : undefined;
}

/** Runs a session on HOST to its end, attaching again across dropped links; resolves with its exit code. */
export async function hostSession(host: HostEntry, what: TerminalOpenParams | TerminalAttachParams): Promise<number> {
  let client: HostClient = await connectHost(host);
  // Persistent: when the link drops, the session waits there for this client (the host's orphan timeout),
  // instead of ending with the connection as a local one does.
  let target = 'session' in what ? what : { ...what, persistent: true };
  let lostAt = 0;
  for (;;) {
    let lost: number | undefined;
    try {
      const code = await attach(client.conn, target, process, (session) => {
        lost = session;
      });
      if (lost === undefined) return code;
    } catch (err) {
      // Until the host's sshd notices the old link is dead (ClientAliveInterval), nsxd there holds the session
      // for it (attached elsewhere: Conflict, or not yet waiting: NotFound): wait that out, a while.
      if (!lostAt || !HELD.includes((err as { code?: number }).code!) || Date.now() - lostAt > HOLD_MS) throw err;
      lost = (target as TerminalAttachParams).session;
    } finally {
      client.close();
    }
    if (!lostAt) {
      lostAt = Date.now();
      const why = client.said();
      process.stderr.write(
        `\r\nnsx: the link to ${host.name} was lost${why ? ` (${why})` : ''}; the shell goes on there: ` +
          `attaching again when it answers (^C leaves it there: nsx --host ${host.name} attach ${lost})\r\n`,
      );
    }
    client = await relink(host, 'session' in target);
    target = { session: lost! };
  }
}

/** A fresh connection to HOST once it answers, tried again with a growing pause; each new reason said once. */
async function relink(host: HostEntry, again: boolean): Promise<HostClient> {
  let said = '';
  for (let attempt = 0; ; attempt++) {
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
    try {
      const c = await connectHost(host);
      if (!again) process.stderr.write(`nsx: ${host.name} answers again: attaching\r\n`);
      return c;
    } catch (err) {
      const text = printable((err as Error).message ?? String(err));
      if (text !== said) process.stderr.write(`nsx: still waiting for ${host.name}: ${text}\r\n`);
      said = text;
    }
  }
}

// nsx's ports verbs: `ports [TARGET] [--json]`, `forward TARGET PORT[:HOSTPORT]`
// (until Ctrl-C, or --keep), `forwards`, `unforward ID`.
import type { Client } from '../common/client';
import { UsageError } from './usage';
import { targetWord } from './words';
import {
  describeForward,
  ForwardClosed,
  ForwardParams,
  ForwardPort,
  ListForwards,
  ListPorts,
  PortsTarget,
  Unforward,
} from '../common/ports';
import { forwardsTable, portsNotices, portsTable } from '../common/portsFormat';
import { field, jsonText } from '../common/format';

/** A target as every verb reads it (words.ts); a plain name may be a container's, a net pin's or an ip netns name. */
export function portsTarget(word: string): PortsTarget {
  const t = targetWord(word);
  if ('pin' in t) return { pin: { type: 'net', name: t.pin } };
  if ('host' in t) return { name: 'host' };
  return t;
}

export async function ports(c: Client, args: string[], json: boolean, tcpOnly: boolean): Promise<number> {
  const result = await c.conn.sendRequest(ListPorts, {
    ...(args[0] !== undefined ? { target: portsTarget(args[0]) } : {}),
    udp: !tcpOnly,
  });
  process.stdout.write(json ? jsonText(result) + '\n' : portsTable(result));
  process.stderr.write(portsNotices(result));
  return 0;
}

function forwardPorts(word: string | undefined): { port: number; hostPort: number } {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(word ?? '');
  const port = Number(m?.[1]);
  const hostPort = m?.[2] === undefined ? 0 : Number(m[2]);
  if (!m || port < 1 || port > 65535 || hostPort > 65535)
    throw new UsageError(
      'forward wants TARGET PORT[:HOSTPORT], as nsx forward web 8080:18080 (HOSTPORT 0 or none: any)',
    );
  return { port, hostPort };
}

/** What `nsx forward` asks for, checked before nsxd is asked anything. */
export function forwardRequest(
  args: string[],
  opts: { keep?: boolean; address?: string; anyUser?: boolean },
): ForwardParams {
  if (args[0] === undefined) throw new UsageError('forward wants TARGET PORT[:HOSTPORT], as nsx forward web 8080');
  if (args.length > 2) throw new UsageError(`forward takes TARGET PORT[:HOSTPORT], not ${args.slice(2).join(' ')}`);
  const { port, hostPort } = forwardPorts(args[1]);
  return {
    target: portsTarget(args[0]),
    port,
    hostPort,
    ...(opts.keep ? { keep: true } : {}),
    ...(opts.address ? { address: opts.address } : {}),
    ...(opts.anyUser ? { anyUser: true } : {}),
  };
}

/** Opens a forward and holds it until Ctrl-C (the forward ends with this connection), or returns at once with keep. */
export async function forward(c: Client, req: ForwardParams): Promise<number> {
  let closedReason: string | undefined;
  let wake = () => undefined as void;
  c.conn.onNotification(ForwardClosed, (p) => {
    closedReason = p.reason;
    wake();
  });
  const f = await c.conn.sendRequest(ForwardPort, req);
  process.stdout.write(`forwarding ${field(describeForward(f))}${req.keep ? ` (kept: nsx unforward ${f.id})` : ''}\n`);
  if (req.keep) return 0;
  await new Promise<void>((resolve) => {
    wake = resolve;
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    process.once('SIGHUP', resolve);
    c.socket.once('close', () => {
      closedReason ??= 'nsxd closed the connection';
      resolve();
    });
  });
  if (closedReason === undefined) return 0;
  process.stderr.write(`nsx: the forward ended: ${field(closedReason)}\n`);
  return 1;
}

export async function forwards(c: Client, json: boolean): Promise<number> {
  const list = await c.conn.sendRequest(ListForwards);
  process.stdout.write(json ? jsonText({ forwards: list }) + '\n' : forwardsTable(list));
  return 0;
}

export function forwardId(word: string | undefined): number {
  if (!word || !/^\d{1,15}$/.test(word) || Number(word) < 1)
    throw new UsageError('unforward wants the ID nsx forwards shows');
  return Number(word);
}

export async function unforward(c: Client, id: number): Promise<number> {
  await c.conn.sendRequest(Unforward, { id });
  return 0;
}

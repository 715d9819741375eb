// nsx-connect as nsxd sees it: one per forward, started in the forward's net
// namespace (the fd nsxd opened and checked), asked for a connection at a
// time; each connected socket comes back over a SOCK_SEQPACKET pair with
// SCM_RIGHTS, announced by a line on the helper's stdout.
import { ChildProcess, spawn } from 'node:child_process';
import { ResponseError } from 'vscode-jsonrpc/node';
import { closeFd, receiveFd, seqpacketPair } from '../../../native/fdpass';
import { checkProgram, CONNECTOR } from './programs';
import { ErrorCodes } from '../../common/protocol';

/** How long nsx-connect may take to say it is in the namespace. */
const START_TIMEOUT_MS = 5000;
/** Requests one forward may have waiting at its helper; more are refused at once. */
const MAX_PENDING = 64;

const errnoNames: Record<number, string> = { 111: 'connection refused', 110: 'timed out', 113: 'no route to host' };

export class Connector {
  private readonly pending = new Map<number, { resolve(fd: number): void; reject(err: Error): void }>();
  private nextId = 1;
  private lines = '';
  private ended: string | undefined;
  /** Told once, when the helper is gone for whatever reason. */
  onExit: (reason: string) => void = () => undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly channel: number,
  ) {}

  /** Starts nsx-connect in the namespace behind netnsFd (which the caller still closes); resolves once it is inside. */
  static async start(netnsFd: number): Promise<Connector> {
    checkProgram(CONNECTOR);
    const [mine, theirs] = seqpacketPair();
    let child: ChildProcess;
    try {
      child = spawn(CONNECTOR, [], { stdio: ['pipe', 'pipe', 'ignore', theirs, netnsFd], env: {} });
    } catch (err) {
      closeFd(mine);
      throw err;
    } finally {
      closeFd(theirs);
    }
    const c = new Connector(child, mine);
    await c.ready();
    return c;
  }

  private ready(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.end('nsx-connect did not start in time'), START_TIMEOUT_MS);
      let first = true;
      this.child.stdin!.on('error', () => undefined);
      this.child.on('error', (err) => this.end(`cannot start nsx-connect: ${err.message}`));
      // 'close', not 'exit': its last words on stdout are read first.
      this.child.on('close', () => this.end('nsx-connect exited'));
      this.onExit = (reason) => {
        clearTimeout(timer);
        reject(new ResponseError(ErrorCodes.Failed, reason));
      };
      this.child.stdout!.setEncoding('latin1');
      this.child.stdout!.on('data', (chunk: string) => {
        this.lines += chunk;
        for (let nl; (nl = this.lines.indexOf('\n')) >= 0;) {
          const line = this.lines.slice(0, nl);
          this.lines = this.lines.slice(nl + 1);
          if (first && line === 'ready') {
            first = false;
            clearTimeout(timer);
            this.onExit = () => undefined;
            resolve();
          } else this.answer(line);
        }
        if (this.lines.length > 4096) this.end('nsx-connect said too much');
      });
    });
  }

  /** One answer line: "ID ok" with the socket waiting on the channel, "ID err ERRNO", or why it is ending. */
  private answer(line: string): void {
    const m = /^(\d+) (ok|err (\d+))$/.exec(line);
    const waiting = m && this.pending.get(Number(m[1]));
    if (!m || !waiting) return this.end(`nsx-connect: ${line.slice(0, 200)}`);
    this.pending.delete(Number(m[1]));
    if (m[3] !== undefined) {
      const errno = Number(m[3]);
      return waiting.reject(new Error(errnoNames[errno] ?? `error ${errno}`));
    }
    let got;
    try {
      got = receiveFd(this.channel);
    } catch (err) {
      return this.end((err as Error).message);
    }
    if (!got || got.id !== Number(m[1])) {
      if (got) closeFd(got.fd);
      return this.end('nsx-connect announced a socket it did not send');
    }
    waiting.resolve(got.fd);
  }

  /** A socket connected inside to address:port, as an fd (close-on-exec) the caller owns. */
  connect(address: string, port: number): Promise<number> {
    if (this.ended) return Promise.reject(new Error(this.ended));
    if (this.pending.size >= MAX_PENDING) return Promise.reject(new Error('too many connections waiting'));
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(`${id} ${address} ${port}\n`);
    });
  }

  /** Kills the helper and fails what waits on it. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = reason;
    this.child.kill('SIGKILL');
    this.child.stdin?.destroy();
    this.child.stdout?.destroy();
    closeFd(this.channel);
    for (const p of this.pending.values()) p.reject(new Error(reason));
    this.pending.clear();
    this.onExit(reason);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}

// nsx-net as nsxd's child: commands down its stdin, a JSON line a namespace
// (or an answer) up its stdout. It holds every watched namespace's sockets;
// ending it (stdin closed, or killed) lets them all go at once.
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const NET_HELPER = join(__dirname, 'nsx-net');
/** A line longer than nsx-net ever writes (it caps its own at 4 MiB): the helper is ended. */
const MAX_LINE = 8 << 20;

export class NetHelper {
  private child: ChildProcess | undefined;
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(
    private readonly onLine: (line: Record<string, unknown>) => void,
    private readonly onExit: () => void,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  start(): void {
    if (this.child) return;
    const child = spawn(NET_HELPER, [], { stdio: ['pipe', 'pipe', 'inherit'], env: {} });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.data(chunk));
    child.stdin!.on('error', () => undefined);
    child.once('error', () => this.exited(child));
    child.once('exit', () => this.exited(child));
  }

  /** Ends it: every namespace it held is let go. */
  stop(): void {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.stdin!.end();
    child.kill('SIGKILL');
    this.partial = [];
    this.partialBytes = 0;
  }

  send(line: string): void {
    this.child?.stdin!.write(line + '\n');
  }

  private exited(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.onExit();
  }

  private data(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.partial.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.partial).toString('utf8');
      this.partial = [];
      this.partialBytes = 0;
      start = nl + 1;
      try {
        const value: unknown = JSON.parse(line);
        if (typeof value === 'object' && value !== null && !Array.isArray(value))
          this.onLine(value as Record<string, unknown>);
      } catch {
        // not a line of ours: skipped
      }
    }
    if (start < chunk.length) {
      this.partial.push(chunk.subarray(start));
      this.partialBytes += chunk.length - start;
      // Ended, and told as if it had died: every namespace is read again from a new one.
      if (this.partialBytes > MAX_LINE) this.child?.kill('SIGKILL');
    }
  }
}

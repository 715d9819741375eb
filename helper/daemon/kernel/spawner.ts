// Sessions' supervisors start through one small process of nsxd's
// (nsx-session --spawner, native/session-spawner.c), not through Node's
// spawn: that forks nsxd itself, the model of a big host and all, and stops
// nsxd's one thread until the child has exec'd, at every terminal opened.
// nsxd hands the spawner each supervisor's argv, environment and fds in one
// SOCK_SEQPACKET message and goes on; the spawner answers each with the pid.
import { ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { closeFd, sendWithFds, seqpacketPair } from '../../../native/fdpass';
import { SUPERVISOR } from './programs';

class Spawner {
  private proc: ChildProcess | undefined;
  private requests = -1;
  /** Those waiting for a pid, in the order their messages went. */
  private waiting: ((pid: number) => void)[] = [];
  private replies = Buffer.alloc(0);

  /** Starts the spawner, unless it runs. */
  start(): void {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return;
    const [ours, theirs] = seqpacketPair();
    let proc: ChildProcess;
    try {
      proc = spawn(SUPERVISOR, ['--spawner'], { stdio: ['ignore', 'pipe', 'ignore', theirs] });
    } catch (err) {
      closeFd(ours);
      throw err;
    } finally {
      closeFd(theirs);
    }
    this.proc = proc;
    this.requests = ours;
    // It ends when nsxd does (its end of the socket closes): neither keeps the other alive.
    proc.unref();
    (proc.stdout as Readable & { unref(): void }).unref();
    proc.stdout!.on('data', (chunk: Buffer) => this.replied(chunk));
    proc.on('error', () => undefined);
    proc.once('exit', () => {
      closeFd(ours);
      if (this.proc === proc) this.proc = undefined;
      for (const w of this.waiting.splice(0)) w(0);
    });
  }

  /** Starts ARGV (ARGV[0] a program) with ENV and FDS as its 3, 4, …; resolves with its pid, 0 if none started. */
  spawn(argv: string[], env: Record<string, string>, fds: number[]): Promise<number> {
    this.start();
    const strings = [...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
    const head = Buffer.alloc(8);
    head.writeUInt32LE(argv.length, 0);
    head.writeUInt32LE(strings.length - argv.length, 4);
    const body = Buffer.concat([head, ...strings.map((s) => Buffer.from(`${s}\0`))]);
    sendWithFds(this.requests, body, fds);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private replied(chunk: Buffer): void {
    this.replies = Buffer.concat([this.replies, chunk]);
    while (this.replies.length >= 4) {
      const pid = this.replies.readUInt32LE(0);
      this.replies = this.replies.subarray(4);
      this.waiting.shift()?.(pid);
    }
  }
}

export const spawner = new Spawner();

// The folder where session supervisors answer (RUNDIR/sessions/ID.sock, only
// root may enter it), the sessions this nsxd relays, and the ids: a new
// nsxd takes up numbering after the supervisors that outlived the last one.
import { chmodSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { SessionCgroups } from './cgroup';

export class Supervisors {
  readonly dir: string;
  private next = 1;
  /** Session ids this nsxd relays now, with the uid that owns each. */
  readonly attached = new Map<number, number>();
  /** nsxd is stopping: connections close, and their sessions wait for the next nsxd. */
  stopping = false;

  constructor(runDir: string, readonly orphanTimeout: number) {
    this.dir = join(runDir, 'sessions');
  }

  /**
   * Makes the folder root's alone; forgets the sockets of supervisors that
   * died (nothing answers), and kills what their sessions left in cgroups.
   */
  async init(cgroups: SessionCgroups): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(this.dir);
    if (!st.isDirectory() || st.uid !== 0) throw new Error(`${this.dir} must be a directory owned by root`);
    chmodSync(this.dir, 0o700);
    const live = new Set<number>();
    await Promise.all(readdirSync(this.dir).map(async (name) => {
      const id = /^([1-9]\d{0,15})\.sock$/.exec(name)?.[1];
      if (!id) return;
      if (await answers(join(this.dir, name))) live.add(Number(id));
      else unlinkSync(join(this.dir, name));
    }));
    this.next = Math.max(0, ...live) + 1;
    cgroups.sweep(live);
  }

  newId(): number {
    return this.next++;
  }

  socketOf(id: number): string {
    return join(this.dir, `${id}.sock`);
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

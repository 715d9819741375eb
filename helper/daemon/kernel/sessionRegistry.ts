// The registry of sessions: the folder where their supervisors answer
// (RUNDIR/sessions/ID.sock, only root may enter it), whose each session is, the sessions this nsxd relays,
// and the ids: a new nsxd takes up numbering after the supervisors that
// outlived the last one. Owners are known here, not asked of a supervisor at
// each attach: a supervisor serves one connection at a time, and nsxd
// connects to one only for its owner, so nobody can keep the owner out by
// knocking with guessed ids.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../../../native/libc';
import type { SessionCgroups } from './cgroup';
import { SessionInfo, SupervisorLink } from './supervisorLink';

/** Whose a session is: the uid and account that opened it. */
export interface Owner {
  uid: number;
  /** The account's name when it opened the session (absent from sessions of older nsxds). */
  account?: string;
}

export class SessionRegistry {
  readonly dir: string;
  private next = 1;
  /** Every session whose supervisor lives, as far as this nsxd knows (its own, and those it found at start). */
  readonly owners = new Map<number, Owner>();
  /** Session ids this nsxd relays now, with the uid that owns each. */
  readonly attached = new Map<number, number>();
  /** Sessions nsxd is connecting to now, for an attach: another attach of one waits its turn. */
  readonly connecting = new Set<number>();
  /** nsxd is stopping: connections close, and their sessions wait for the next nsxd. */
  stopping = false;

  constructor(
    runDir: string,
    readonly orphanTimeout: number,
  ) {
    this.dir = join(runDir, 'sessions');
  }

  /**
   * Makes the folder root's alone; learns whose each live session is (from
   * what nsxd stored in its supervisor), forgets the sockets of supervisors
   * that died (nothing answers), ends the sessions whose account is gone or
   * was given to someone else, and kills what dead sessions left in cgroups.
   */
  async init(cgroups: SessionCgroups): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(this.dir);
    if (!st.isDirectory() || st.uid !== 0) throw new Error(`${this.dir} must be a directory owned by root`);
    chmodSync(this.dir, 0o700);
    const live = new Set<number>();
    await Promise.all(
      readdirSync(this.dir).map(async (name) => {
        const id = Number(/^([1-9]\d{0,15})\.sock$/.exec(name)?.[1]);
        if (!id) return;
        const found = await SupervisorLink.connect(this.socketOf(id)).catch(() => undefined);
        if (!found) return void unlinkSync(join(this.dir, name));
        live.add(id);
        const owner = found.hello.info && ownerOf(found.hello.info);
        if (owner && accountLives(owner)) {
          this.owners.set(id, owner);
          found.link.detach();
        } else {
          await found.link.end();
        }
      }),
    );
    this.next = Math.max(0, ...live) + 1;
    cgroups.sweep(live);
  }

  /** The sessions of a uid whose supervisors still live, attached or waiting. */
  countOf(uid: number): number {
    let n = 0;
    for (const [id, owner] of this.owners) {
      // A supervisor removes its socket as it ends, even while no nsxd listens.
      if (!existsSync(this.socketOf(id))) this.owners.delete(id);
      else if (owner.uid === uid) n++;
    }
    return n;
  }

  newId(): number {
    return this.next++;
  }

  socketOf(id: number): string {
    return join(this.dir, `${id}.sock`);
  }
}

export function ownerOf(info: SessionInfo): Owner | undefined {
  if (!Number.isSafeInteger(info.owner) || info.owner < 0) return undefined;
  return { uid: info.owner, ...(typeof info.account === 'string' ? { account: info.account } : {}) };
}

/**
 * Whether the account that opened a session is still there under its name:
 * a uid that userdel freed and useradd gave to someone else is not the owner.
 */
export function accountLives(owner: Owner): boolean {
  if (owner.uid === 0) return true;
  const now = libc.getpwuid(owner.uid)?.name;
  return now !== undefined && (owner.account === undefined || now === owner.account);
}

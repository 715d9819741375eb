// Who a caller is and what the policy grants them. Identity comes only from
// SO_PEERCRED, read once at accept; group membership comes from the host's
// user database, never from the gid the connecting process happens to carry.
import { statSync, readFileSync } from 'node:fs';
import * as libc from '../../../native/libc';

export interface Policy {
  /** Users (or `%group`s) who may release anyone's pins. */
  admins: string[];
  /** Users (or `%group`s) who may ask for root shells. */
  rootShells: string[];
}

export interface Caller {
  uid: number;
  gid: number;
  /** The peer's pid at connect time: decoration for logs, never trusted. */
  pid: number;
  user: string;
  home: string;
  shell: string;
  groups: number[];
  role: 'admin' | 'operator';
  rootShells: boolean;
}

export const EMPTY_POLICY: Policy = { admins: [], rootShells: [] };

/** Reads the policy file; it must be root's and writable by root alone, or nsxd refuses to start. */
export function loadPolicy(file: string): Policy {
  let st;
  try {
    st = statSync(file);
  } catch {
    return EMPTY_POLICY;
  }
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new Error(`${file} must be owned by root and not writable by group or others`);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const list = (key: keyof Policy): string[] => {
    const v = (value as Record<string, unknown>)[key] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
      throw new Error(`${file}: "${key}" must be an array of user or %group names`);
    return v;
  };
  return { admins: list('admins'), rootShells: list('rootShells') };
}

export type Verdict = { caller: Caller } | { refused: string };

export function identify(cred: libc.PeerCred, group: string, policy: Policy): Verdict {
  const pw = libc.getpwuid(cred.uid);
  const user = pw?.name ?? String(cred.uid);
  const groups = pw ? libc.getgrouplist(pw.name, pw.gid) : [];
  const base = {
    uid: cred.uid,
    gid: pw?.gid ?? cred.gid,
    pid: cred.pid,
    user,
    home: pw?.home ?? '/',
    shell: pw?.shell ?? '/bin/sh',
    groups,
  };
  if (cred.uid === 0) return { caller: { ...base, role: 'admin', rootShells: true } };
  const gr = libc.getgrnam(group);
  if (!pw || !gr || !groups.includes(gr.gid)) {
    return {
      refused:
        `access denied: ${user} (uid ${cred.uid}) is not a member of the group "${group}". ` +
        `Membership is equivalent to root on this machine; an admin grants it with: sudo usermod -aG ${group} ${user} (then log in again)`,
    };
  }
  const matches = (entries: string[]) =>
    entries.some((e) => {
      if (!e.startsWith('%')) return e === user;
      const g = libc.getgrnam(e.slice(1));
      return g !== undefined && groups.includes(g.gid);
    });
  return {
    caller: { ...base, role: matches(policy.admins) ? 'admin' : 'operator', rootShells: matches(policy.rootShells) },
  };
}

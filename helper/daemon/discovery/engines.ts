// Containers, from the engines that run them. Each engine's API socket is
// asked (Docker's, and podman's Docker-compatible one, system-wide and each
// rootless user's); what no API reports is read from the OCI runtime's state
// on disk (runtime.ts). Engines are only read.
//
// A rootless engine is its user's program, and everything it says is that
// user's words: nsxd believes it only about processes inside a user namespace
// that user made (never a plain host process of theirs), keeps none of its
// answers but the few fields it shows, reads at most ENGINE_BUDGET bytes of
// it per refresh within DEADLINE_MS, never makes a list wait for it, and
// learns who answers from SO_PEERCRED. Its environment and working directory
// are asked for only when a shell opens (see kernel/placement.ts for whose).
import { closeSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection, Socket } from 'node:net';
import * as libc from '../../../native/libc';
import { field } from '../../common/format';
import type { Container, EngineApi } from '../../common/protocol';
import { ContainerProcess, EngineContainer, grouping, labelsOf, MAX_CONTAINERS, name, str } from './engineJson';
import { fromRuntime } from './runtime';

export type { ContainerProcess, EngineContainer } from './engineJson';

const DEADLINE_MS = 2000;
const MAX_RESPONSE = 4 * 1024 * 1024;
/** Bytes one engine may send in one refresh, all its answers together: 512 Docker inspects of 16 KiB fit. */
const ENGINE_BUDGET = 8 * 1024 * 1024;
const INSPECTS_AT_ONCE = 8;
/** How long a list of containers is good for: a scan every 2 s asks the engines at most that often. */
const FRESH_MS = 2000;

/** What is left of ENGINE_BUDGET in one refresh of one engine. */
interface Budget {
  left: number;
}

interface Socketed {
  path: string;
  /** The uid the socket's folder says it belongs to: 0 for system engines. */
  uid: number;
  engine: 'docker' | 'podman';
}

/** The API sockets that exist now: the system's, and each logged-in user's under /run/user. */
function apiSockets(): Socketed[] {
  const found: Socketed[] = [];
  const seen = new Set<string>();
  const add = (path: string, uid: number, engine: Socketed['engine']) => {
    const st = statSync(path, { throwIfNoEntry: false });
    // /var/run is /run on most systems: one socket, however many names.
    if (st?.isSocket() && (st.uid === uid || uid === 0) && !seen.has(`${st.dev}:${st.ino}`)) {
      seen.add(`${st.dev}:${st.ino}`);
      found.push({ path, uid: st.uid, engine });
    }
  };
  add('/run/docker.sock', 0, 'docker');
  add('/var/run/docker.sock', 0, 'docker');
  add('/run/podman/podman.sock', 0, 'podman');
  let users: string[] = [];
  try {
    users = readdirSync('/run/user').filter((d) => /^\d+$/.test(d));
  } catch {
    // no logged-in users
  }
  for (const uid of users) {
    add(`/run/user/${uid}/podman/podman.sock`, Number(uid), 'podman');
    add(`/run/user/${uid}/docker.sock`, Number(uid), 'docker');
  }
  return found;
}

/**
 * GET PATH on an engine's socket, with a deadline and a size cap, answered
 * only if whoever listens there is the socket's user (SO_PEERCRED): a
 * rootless socket's user, root for the system's. A connection of its own
 * each time: given createConnection, Node uses no agent, so no connection
 * made to one engine is kept to carry a request for another.
 */
function get(s: Socketed, path: string, budget: Budget): Promise<{ body: unknown; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    let peerUid = -1;
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
    const req = request(
      {
        path,
        headers: { Host: 'engine' },
        createConnection: () => {
          const socket: Socket = createConnection(s.path);
          socket.once('connect', () => {
            try {
              peerUid = libc.socketPeerCred(socket).uid;
            } catch {
              socket.destroy(new Error('no peer credentials'));
            }
          });
          return socket;
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          budget.left -= c.length;
          if (size > MAX_RESPONSE) req.destroy(new Error(`answer larger than ${MAX_RESPONSE} bytes`));
          else if (budget.left < 0) req.destroy(new Error(`answers larger than ${ENGINE_BUDGET} bytes in all`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          // Whoever listens on a rootless socket must be that user; on the system's, root.
          if (peerUid !== s.uid) return reject(new Error(`${s.path} is answered by uid ${peerUid}, not ${s.uid}`));
          if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}`));
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({
              body: /json/.test(String(res.headers['content-type'])) ? JSON.parse(text) : text,
              headers: res.headers,
            });
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    );
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

/**
 * Whether a rootless engine of UID may speak for PID: only if the process is
 * inside a user namespace that UID made below nsxd's own (the topmost one
 * under nsxd's, so a namespace nested in the container's counts too). A
 * plain process of UID in the host's namespaces is never its engine's
 * container: naming one would let an engine's words (its environment, its
 * working directory) reach whoever enters it.
 */
export function insideUsersNamespace(pid: number, uid: number): boolean {
  const own = statSync('/proc/self/ns/user');
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/ns/user`, 'r');
    // A user namespace is at most 32 deep; past nsxd's own the kernel refuses NS_GET_PARENT (EPERM).
    for (let depth = 0; depth < 33; depth++) {
      const here = fstatSync(fd);
      if (here.ino === own.ino && here.dev === own.dev) return false;
      const parent = libc.nsGetParent(fd);
      const up = fstatSync(parent);
      if (up.ino === own.ino && up.dev === own.dev) {
        closeSync(parent);
        return libc.nsGetOwnerUid(fd) === uid;
      }
      closeSync(fd);
      fd = parent;
    }
    return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether the engine of UID may speak for PID: root's for any process, a user's only inside their user namespaces. */
function speaksFor(pid: number, uid: number): boolean {
  return uid === 0 || insideUsersNamespace(pid, uid);
}

/** Every container one API socket reports, the running ones with their first process; at most ENGINE_BUDGET bytes of answers. */
async function fromApi(s: Socketed): Promise<EngineContainer[]> {
  const budget: Budget = { left: ENGINE_BUDGET };
  // _ping is the cheap one (podman's /version takes most of a second); podman says itself in a header.
  const ping = await get(s, '/_ping', budget);
  const engine = ping.headers['libpod-api-version'] !== undefined ? 'podman' : s.engine;
  // podman's own list says which pod each container is in; the Docker-compatible one does not.
  const list = (
    await get(s, engine === 'podman' ? '/v4.0.0/libpod/containers/json?all=true' : '/containers/json?all=1', budget)
  ).body;
  if (!Array.isArray(list)) return [];
  // A few inspects at a time, so that the budget, once spent, stops the rest before they are asked.
  const found: (EngineContainer | undefined)[] = [];
  for (let i = 0; i < Math.min(list.length, MAX_CONTAINERS); i += INSPECTS_AT_ONCE) {
    found.push(
      ...(await Promise.all(
        list.slice(i, Math.min(i + INSPECTS_AT_ONCE, MAX_CONTAINERS)).map((c) => fromListed(s, engine, c, budget)),
      )),
    );
  }
  return found.filter((c): c is EngineContainer => c !== undefined);
}

/**
 * One container of an engine's list (the engine's JSON: every field is
 * checked); a running one is inspected for its first process and hostname,
 * and only those are kept. An inspect that fails, or one the spent budget
 * skips, leaves the container without a process, not the engine without
 * containers.
 */
async function fromListed(
  s: Socketed,
  engine: Container['engine'],
  c: Record<string, unknown> | null,
  budget: Budget,
): Promise<EngineContainer | undefined> {
  const id = str(c?.Id, 128);
  if (!c || !id || !/^[0-9a-f]{12,128}$/.test(id)) return undefined;
  const item: EngineContainer = {
    engine,
    engineUid: s.uid,
    id,
    name: name(Array.isArray(c.Names) ? c.Names[0] : undefined)?.replace(/^\//, '') || id.slice(0, 12),
    image: name(c.Image) ?? '',
    state: name(c.State, 32) ?? 'unknown',
    namespaces: [],
    source: 'api',
    ...grouping(labelsOf(c.Labels)),
  };
  const podName = name(c.PodName);
  if (podName && !item.pod) item.pod = podName;
  if (item.state !== 'running' || budget.left <= 0) return item;
  // An engine that fails one inspect (too big, too slow) is asked no more this refresh.
  const inspected = await inspect(s, id, budget).catch(() => {
    budget.left = 0;
  });
  if (!inspected) return item;
  if (inspected.pid !== undefined && speaksFor(inspected.pid, s.uid)) item.pid = inspected.pid;
  if (inspected.hostname) item.hostname = inspected.hostname;
  item.exec = async () => {
    // Asked again, now: what a shell starts from is never an answer kept since a scan.
    const now = await inspect(s, id, { left: MAX_RESPONSE });
    return now.pid === item.pid && now.process ? now.process : undefined;
  };
  return item;
}

/** A container's inspect, reduced to what nsxd uses: its first process, its hostname, and what a shell in it starts from. */
async function inspect(
  s: Socketed,
  id: string,
  budget: Budget,
): Promise<{ pid?: number; hostname?: string; process?: ContainerProcess }> {
  const got = await get(s, `/containers/${id}/json`, budget);
  const body = got.body as {
    State?: { Pid?: unknown };
    Config?: { Hostname?: unknown; Env?: unknown; WorkingDir?: unknown };
  } | null;
  const pid = body?.State?.Pid;
  const hostname = name(body?.Config?.Hostname, 253);
  const env = Array.isArray(body?.Config?.Env)
    ? body!
        .Config!.Env.filter((e): e is string => typeof e === 'string')
        .slice(0, 256)
        .map((e) => e.slice(0, 65536))
    : [];
  return {
    ...(typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 ? { pid } : {}),
    ...(hostname ? { hostname } : {}),
    process: { env, cwd: str(body?.Config?.WorkingDir, 4096) || '/', ...(hostname ? { hostname } : {}) },
  };
}

/**
 * The containers of every engine, asked at most every FRESH_MS. The system's
 * engines are waited for; a user's rootless engine never is: a list takes
 * what it said last, and its new answer, when it comes, is told to onChange.
 * An engine that fails is left out, the others stay.
 */
export class Engines {
  private latest: EngineContainer[] = [];
  private at = 0;
  private pending: Promise<EngineContainer[]> | undefined;
  private system: EngineContainer[] = [];
  /** What the rootless engines answered last, and whether they are being asked. */
  private users: EngineContainer[] = [];
  private asking = false;
  /** What the runtime's state said at the last refresh: read once a refresh, not again when a user's engine answers. */
  private runtime: EngineContainer[] = [];
  /** Each API socket's last answer, by socket path. */
  private answers = new Map<string, EngineApi>();
  /** Told when a rootless engine's answer, which no list waited for, has landed. */
  onChange: (() => void) | undefined;

  current(): Promise<EngineContainer[]> {
    if (Date.now() - this.at < FRESH_MS) return Promise.resolve(this.latest);
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async refresh(): Promise<EngineContainer[]> {
    const sockets = apiSockets();
    this.askUsers(sockets.filter((s) => s.uid !== 0));
    // Sockets that went are forgotten; the others keep their last answer until they give a new one.
    for (const path of this.answers.keys()) if (!sockets.some((s) => s.path === path)) this.answers.delete(path);
    this.system = await this.ask(sockets.filter((s) => s.uid === 0));
    this.runtime = fromRuntime();
    return this.merge();
  }

  /** The API sockets there are, and whether each answered the last time it was asked. */
  apis(): EngineApi[] {
    return [...this.answers.values()];
  }

  /** The containers some API sockets report; a socket that fails adds none, and says why. */
  private async ask(sockets: Socketed[]): Promise<EngineContainer[]> {
    const results = await Promise.allSettled(sockets.map(fromApi));
    return results.flatMap((r, i) => {
      const { path: socket, uid, engine } = sockets[i];
      // An error may quote the engine's own answer (a JSON parse error does): its words, escaped.
      const reason =
        r.status === 'rejected' ? field(String((r.reason as Error)?.message ?? r.reason).slice(0, 256)) : undefined;
      this.answers.set(socket, { engine, uid, socket, answering: !reason, ...(reason ? { reason } : {}) });
      return r.status === 'fulfilled' ? r.value : [];
    });
  }

  private askUsers(sockets: Socketed[]): void {
    if (this.asking) return;
    this.asking = true;
    void this.ask(sockets).then((found) => {
      this.users = found;
      this.asking = false;
      this.merge();
      this.onChange?.();
    });
  }

  private merge(): EngineContainer[] {
    const all: EngineContainer[] = [];
    // One engine may answer on two sockets (podman's own and its docker.sock): each container once.
    for (const c of [...this.system, ...this.users]) if (!all.some((x) => x.id === c.id)) all.push(c);
    // What the runtime knows and no API reported (no socket, or an engine that is down).
    const known = new Set(all.map((c) => c.id));
    for (const c of this.runtime) if (!known.has(c.id)) all.push(c);
    this.latest = all;
    this.at = Date.now();
    return all;
  }
}

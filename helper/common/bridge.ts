// A connection to nsxd on another host: `nsx bridge` run there by ssh or
// kubectl exec, its stdio the stream JSON-RPC goes over, so that every verb
// works as locally. The far nsxd knows the caller as the login user (ssh) or
// root in its pod (kubectl exec), from SO_PEERCRED on the bridge's socket.
// Everything the transport says is someone else's text: one line, escaped.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { ErrorCodes } from 'vscode-jsonrpc/node';
import { Client, handshake } from './client';
import { printable } from './format';
import { DEFAULT_K8S_NAMESPACE, HostEntry, KubectlHost, SshHost } from './hosts';

/** The most of the transport's stderr kept: its last words say why. */
const STDERR_KEPT = 4096;
/** How long the transport and nsxd there may take to answer the handshake. */
const HANDSHAKE_MS = 30_000;

export interface HostClient extends Client {
  host: HostEntry;
  /** What the transport said last (ssh's sentence: host key, auth, timeout), escaped; '' if nothing. */
  said(): string;
}

/** Where ssh keeps one connection per host: the passwd home's (ssh reads its config from there too), 0700. */
export function controlDir(): string {
  const dir = join(userInfo().homedir, '.cache', 'nsx', 'ssh');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** ssh's command line: one connection per host (ControlMaster) kept a while, never a prompt (BatchMode). */
export function sshArgv(host: SshHost, control: string): string[] {
  const own = Object.entries(host.sshOptions ?? {}).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  const defaults = {
    BatchMode: 'yes',
    ControlMaster: 'auto',
    ControlPath: join(control, '%C'),
    ControlPersist: '600',
    ConnectTimeout: '10',
    ServerAliveInterval: '10',
    ServerAliveCountMax: '3',
  };
  const ours = Object.entries(defaults).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  return ['ssh', '-T', ...own, ...ours, '--', host.ssh, 'nsx', 'bridge'];
}

function kubectlBase(k: KubectlHost['kubectl']): string[] {
  return [...(k.context ? ['--context', k.context] : []), '-n', k.namespace ?? DEFAULT_K8S_NAMESPACE];
}

/** kubectl exec into the nsxd pod on that node: chosen by node name, never `ds/nsxd` (which is any pod). */
export async function kubectlArgv(host: KubectlHost): Promise<string[]> {
  const base = kubectlBase(host.kubectl);
  const args = [...base, 'get', 'pods', '-l', 'app=nsxd', '--field-selector', `spec.nodeName=${host.kubectl.node}`];
  const out = await new Promise<string>((resolve, reject) =>
    execFile('kubectl', [...args, '-o', 'name'], { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${host.name} (kubectl): ${oneLine(stderr || err.message)}`)) : resolve(stdout),
    ),
  );
  const pod = out.split('\n').find((l) => /^pod\/[a-z0-9.-]{1,253}$/.test(l.trim()));
  if (!pod) throw new Error(`${host.name} (kubectl): no nsxd pod on node ${host.kubectl.node}`);
  return ['kubectl', ...base, 'exec', '-i', pod.trim().slice(4), '--', 'nsx', 'bridge'];
}

/** The transport's words as one escaped line. */
function oneLine(text: string): string {
  return printable(
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' / '),
  );
}

function describe(host: HostEntry): string {
  return 'ssh' in host ? `${host.name} (ssh ${host.ssh})` : `${host.name} (kubectl, node ${host.kubectl.node})`;
}

/** A bridge's transport, started: its stdio as one stream, and what it said on stderr. */
export interface Bridge {
  stream: Duplex;
  child: ChildProcess;
  argv: string[];
  /** Its stderr so far, as one escaped line. */
  said(): string;
  /** Why it failed, once it has exited (its last words, else its status). */
  why(): Promise<string>;
}

/** Starts `nsx bridge` on HOST through ssh or kubectl exec: no handshake yet (the extension's client makes its own). */
export async function openBridge(host: HostEntry): Promise<Bridge> {
  const argv = 'ssh' in host ? sshArgv(host, controlDir()) : await kubectlArgv(host);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEPT);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`${describe(host)}: cannot run ${argv[0]}: ${err.message}`)));
  });
  const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
  const said = () => oneLine(stderr);
  const why = async () => {
    await exited(child);
    return `${describe(host)} did not answer: ${said() || `${argv[0]} exited with status ${child.exitCode ?? child.signalCode}`}`;
  };
  return { stream, child, argv, said, why };
}

/** Connects to nsxd on HOST through its bridge and makes the handshake. */
export async function connectHost(host: HostEntry, clientName = 'nsx'): Promise<HostClient> {
  const { stream, child, said, why } = await openBridge(host);
  const failed = async (err: unknown) => {
    // nsxd's own answer (a refusal, another protocol version) is said as nsxd says it.
    if (child.exitCode === null && !stream.destroyed && !isHangUp(err)) return err;
    return new Error(await why());
  };
  // A link that takes no answer (a master ssh over a dead network) is given up: kill it, say what it said.
  const timer = setTimeout(() => child.kill('SIGTERM'), HANDSHAKE_MS);
  // A capture's stream is another bridge run the same way (over ssh's shared connection).
  const open = async () => (await openBridge(host)).stream;
  const client = await handshake(stream, clientName, failed, open).finally(() => clearTimeout(timer));
  return { ...client, host, said };
}

function isHangUp(err: unknown): boolean {
  const e = err as { message?: string; code?: number } | undefined;
  return /^write E|closed|disposed/i.test(e?.message ?? '') || e?.code === ErrorCodes.PendingResponseRejected;
}

/** Once the transport has exited (and a moment for its last words), or after a few seconds. */
function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    const done = () => setTimeout(resolve, 100);
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', done);
    setTimeout(resolve, 5000).unref();
  });
}

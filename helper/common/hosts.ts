// Other hosts a client may reach (nsx --host, the extension's nsx.hosts):
// ~/.config/nsx/hosts.json, a list of {name, ssh} or {name, kubectl}. What
// is in it becomes a command line (ssh's, kubectl's), so every field is
// checked to be what it says: nothing may start with '-' (it would be read
// as an option) or hold a control character.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface SshHost {
  name: string;
  /** ssh's destination: HOST, USER@HOST or an alias of ~/.ssh/config. */
  ssh: string;
  /** ssh -o KEY=VALUE, before nsx's own (so they win): ServerAliveInterval, Port, IdentityFile … */
  sshOptions?: Record<string, string>;
}

export interface KubectlHost {
  name: string;
  kubectl: { context?: string; namespace?: string; node: string };
}

export type HostEntry = SshHost | KubectlHost;

export const DEFAULT_K8S_NAMESPACE = 'nsx-system';

/** $XDG_CONFIG_HOME/nsx/hosts.json, else ~/.config/nsx/hosts.json. */
export function hostsFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(base, 'nsx', 'hosts.json');
}

/** A host's name: also what a URI's authority carries for it (extension/hostUri.ts), so never a '~'. */
export const HOST_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

const WORD = /^[A-Za-z0-9_.:@/+=%[\]-]{1,253}$/;

function word(value: unknown, what: string): string {
  if (typeof value !== 'string' || !WORD.test(value) || value.startsWith('-'))
    throw new Error(`${what} must be a word of letters, digits and . _ : @ / - (not starting with -)`);
  return value;
}

/** One entry, checked; a clear sentence for what is wrong with it. */
export function parseHost(raw: unknown, where: string): HostEntry {
  const e = (raw ?? {}) as Record<string, unknown>;
  if (typeof e.name !== 'string' || !HOST_NAME.test(e.name))
    throw new Error(`${where}: each host needs a "name" of letters, digits and . _ -`);
  const at = `${where}: host ${e.name}:`;
  if (typeof e.ssh === 'string') {
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries((e.sshOptions ?? {}) as Record<string, unknown>)) {
      if (!/^[A-Za-z]{1,64}$/.test(k) || typeof v !== 'string' || !/^(?!-)[^\s\x00-\x1f\x7f]{1,1000}$/.test(v))
        throw new Error(`${at} sshOptions are ssh's KEY: "VALUE" (one word each), not ${JSON.stringify(k)}`);
      options[k] = v;
    }
    return { name: e.name, ssh: word(e.ssh, `${at} "ssh"`), ...(e.sshOptions ? { sshOptions: options } : {}) };
  }
  if (e.kubectl && typeof e.kubectl === 'object') {
    const k = e.kubectl as Record<string, unknown>;
    return {
      name: e.name,
      kubectl: {
        node: word(k.node, `${at} kubectl.node`),
        namespace: k.namespace === undefined ? DEFAULT_K8S_NAMESPACE : word(k.namespace, `${at} kubectl.namespace`),
        ...(k.context !== undefined && { context: word(k.context, `${at} kubectl.context`) }),
      },
    };
  }
  throw new Error(`${at} give "ssh": "USER@HOST" or "kubectl": {"node": NODE, …}`);
}

export function parseHosts(text: string, where: string): HostEntry[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(list)) throw new Error(`${where} must be a list of hosts: [{"name": …, "ssh": …}, …]`);
  return list.map((h) => parseHost(h, where));
}

/** The host of that name in the user's hosts.json, or a sentence saying where it was looked for. */
export function findHost(name: string, env: NodeJS.ProcessEnv = process.env): HostEntry {
  const file = hostsFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`no host "${name}": cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const found = parseHosts(text, file).find((h) => h.name === name);
  if (!found) throw new Error(`no host "${name}" in ${file}`);
  return found;
}

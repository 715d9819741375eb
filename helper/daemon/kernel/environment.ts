// Who a shell runs as, and what it starts with: the client's TERM and locale,
// the user's HOME and USER, a PATH; in a container, the environment its
// engine gave, when that engine may speak to this shell (sessions.ts decides
// that). A root shell never starts with what a loader or shell runs code from.
import type { Caller } from '../access/access';
import type { ContainerProcess } from '../discovery/engines';
import type { TerminalOpenParams } from '../../common/protocol';
import type { LaunchIdentity } from './launcher';

const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/**
 * What the loader, the shells and the common interpreters run code from as
 * they start. A root shell takes none of them from a container's environment,
 * whoever's engine reported it: an image's LD_LIBRARY_PATH is not worth a
 * library root loads before it has printed a prompt.
 */
const START_UP =
  /^(LD_\w*|BASH_ENV|ENV|PROMPT_COMMAND|PS4|SHELLOPTS|BASHOPTS|BASH_FUNC_.*|IFS|CDPATH|GLOBIGNORE|ZDOTDIR|INPUTRC|GCONV_PATH|LOCPATH|NLSPATH|HOSTALIASES|RESOLV_HOST_CONF|MALLOC_\w*|GLIBC_TUNABLES|PYTHON(STARTUP|PATH|HOME)|PERL5(OPT|LIB)|RUBYOPT|NODE_OPTIONS)$/;

/** Who the shell runs as: root (asked for and granted, or the caller is root), else the caller. */
export interface RunAs {
  asRoot: boolean;
  identity: LaunchIdentity;
  home: string;
  user: string;
}

export function runAs(req: TerminalOpenParams, caller: Caller): RunAs {
  const asRoot = req.root === true || caller.uid === 0;
  if (asRoot) return { asRoot, identity: { uid: 0, gid: 0, groups: [0] }, home: '/root', user: 'root' };
  // Group 0 is root's even as a supplementary group (it may write files that root's programs trust).
  return {
    asRoot,
    identity: { uid: caller.uid, gid: caller.gid, groups: caller.groups.filter((g) => g !== 0) },
    home: caller.home,
    user: caller.user,
  };
}

/**
 * A shell's environment: the client's TERM and locale, the user's HOME and
 * USER, a PATH; in a container, the container's own environment first, as
 * `docker exec` starts from it, and its HOSTNAME. A root shell starts with no
 * START_UP variable, and with the container's PATH only if every entry of it
 * is an absolute folder (else root's own).
 */
export function environment(
  req: TerminalOpenParams,
  who: RunAs,
  inside: ContainerProcess | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of inside?.env ?? []) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    if (eq > 0 && !entry.includes('\0') && !(who.asRoot && START_UP.test(name))) env[name] = entry.slice(eq + 1);
  }
  if (inside?.hostname) env.HOSTNAME = inside.hostname;
  Object.assign(env, req.env, { USER: who.user, LOGNAME: who.user });
  env.HOME = inside ? (env.HOME ?? (who.asRoot ? '/root' : '/')) : who.home;
  const absolute = env.PATH !== undefined && env.PATH.split(':').every((dir) => dir.startsWith('/'));
  if (!inside || env.PATH === undefined || (who.asRoot && !absolute)) env.PATH = who.asRoot ? ROOT_PATH : USER_PATH;
  env.TERM ??= req.pty ? 'xterm-256color' : 'dumb';
  return env;
}

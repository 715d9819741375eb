// A host tool run inside one namespace, as root, for Details (ip, ipcs, a
// file of /proc/self seen from inside): a short-lived nsx-exec joins that
// namespace alone, runs it, and what it prints comes back, cut at a size.
import type { Namespace } from '../../common/protocol';
import { MAX_OUTPUT, TRUNCATED } from '../discovery/details';
import { openNamespace } from '../discovery/openNamespace';
import type { Model } from '../discovery/snapshot';
import { closeQuietly } from '../fds';
import { launch } from './launcher';

/** Runs a host command joined to this one namespace only, as root, and returns what it printed (at most MAX_OUTPUT, within 5 s). */
export async function runInside(model: Model, ns: Namespace, command: string[], cat = false): Promise<string> {
  const fd = openNamespace(model, ns);
  if (fd === undefined) return 'nsxd can no longer open this namespace.';
  const { child, ready } = launch({
    joins: [{ type: ns.type, fd }],
    unshare: [],
    command,
    cat,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
  });
  closeQuietly(fd);
  child.stdin?.end();
  let out = '';
  let cut = false;
  const collect = (chunk: Buffer) => {
    if (out.length < MAX_OUTPUT) out += chunk.toString();
    if (out.length > MAX_OUTPUT) {
      out = out.slice(0, MAX_OUTPUT);
      cut = true;
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  try {
    await ready;
  } catch (err) {
    return `(${(err as Error).message})`;
  } finally {
    await exited;
    clearTimeout(timer);
  }
  return (out.trimEnd() || '(nothing)') + (cut ? TRUNCATED : '');
}

// What a user types on nsx's command line for a namespace, the same for
// every verb that takes one (net, ports, forward, capture, ls, cp):
//   1234                a process (its namespace of the verb's type)
//   host                nsxd's own namespaces: the host's
//   net:4026531840      a namespace by type and inode (also net:[4026531840])
//   pin:NAME            a pin of nsxd's (of the verb's type)
//   container:NAME      a container, by name or id, when a name could mean more than one thing
//   NAME                a container; for net and ports also a pin or an ip netns name
import { isNsType, NsKey } from '../common/protocol';

export type TargetWord =
  { pid: number } | { host: true } | { namespace: NsKey } | { pin: string } | { container: string } | { name: string };

export function targetWord(word: string): TargetWord {
  if (/^\d+$/.test(word)) return { pid: Number(word) };
  if (word === 'host') return { host: true };
  const key = /^([a-z]+):\[?(\d+)\]?$/.exec(word);
  if (key && isNsType(key[1])) return { namespace: { type: key[1], inode: Number(key[2]) } };
  if (word.startsWith('pin:')) return { pin: word.slice(4) };
  if (word.startsWith('container:')) return { container: word.slice(10) };
  return { name: word };
}

/**
 * TARGET:PATH split, as docker cp reads it, or undefined for a host path (one
 * with a / before the first colon). A target may hold a colon of its own
 * (pin:NAME:/etc, mnt:4026531841:/).
 */
export function targetAndPath(arg: string): { word: string; path: string } | undefined {
  const m = /^((?:pin|container|cgroup|ipc|mnt|net|pid|time|user|uts):[^:/]+|[^:/]+):(.*)$/s.exec(arg);
  return m ? { word: m[1], path: m[2] || '/' } : undefined;
}

// Container hints from a process's cgroup path: each runtime names the
// cgroup it makes after the container, so the path says who started it.
import type { ContainerHint } from '../../common/protocol';

const HEX64 = '([0-9a-f]{64})';
/** Longer cgroup lines are not container paths; a user with a delegated subtree may write any. */
const MAX_LINE = 1024;
const PATTERNS: [RegExp, ContainerHint['runtime'], boolean][] = [
  // [pattern, runtime, whether the capture is an id (shortened) or a name]
  [new RegExp(`^/kubepods\\b.*/(?:cri-containerd-|crio-|docker-)?${HEX64}(?:\\.scope)?$`), 'kubernetes', true],
  [new RegExp(`(?:/docker/|docker-)${HEX64}(?:\\.scope)?$`), 'docker', true],
  [new RegExp(`(?:/libpod-|libpod-conmon-)${HEX64}(?:\\.scope)?`), 'podman', true],
  [new RegExp(`cri-containerd-${HEX64}\\.scope$`), 'containerd', true],
  [/systemd-nspawn@([^/]+)\.service/, 'nspawn', false],
  [/\/machine\.slice\/machine-([^/]+)\.scope/, 'nspawn', false],
  [/\/lxc(?:\.payload)?[./]([^/]+)/, 'lxc', false],
];

/** The container a /proc/PID/cgroup file points at, if its path names one. */
export function containerFromCgroup(cgroupFile: string): ContainerHint | undefined {
  for (const line of cgroupFile.split('\n')) {
    if (line.length > MAX_LINE) continue;
    // "hierarchy-ID:controllers:path"; the path may itself hold colons.
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    if (!path || path === '/') continue;
    for (const [re, runtime, isId] of PATTERNS) {
      const m = re.exec(path);
      if (m) {
        const value = m[1].replace(/\\x2d/g, '-');
        return isId ? { runtime, id: value.slice(0, 12) } : { runtime, id: value, name: value };
      }
    }
  }
  return undefined;
}

// What nsxd takes from engines' JSON (their APIs' answers, their files on
// disk): every field checked where it is read, names with a control or
// bidirectional-formatting character refused, and the shape nsxd keeps.
import { hasControl } from '../../common/format';
import type { Container } from '../../common/protocol';

/** At most this many containers of one engine's answer, or of the runtime's state. */
export const MAX_CONTAINERS = 512;

/** What a shell in the container gets, as `docker exec` gives it. */
export interface ContainerProcess {
  env: string[];
  cwd: string;
  hostname?: string;
}

/** A container as an engine (or the runtime's state) said it, with how to ask for what a shell in it starts from. */
export interface EngineContainer extends Container {
  /** Asked of the engine when a terminal opens in it, not with every scan. */
  exec?: () => Promise<ContainerProcess | undefined>;
}

export const str = (v: unknown, max = 256): string | undefined => (typeof v === 'string' ? v.slice(0, max) : undefined);
/**
 * A name an engine gives (a container's, an image's, a pod's, a label's): one
 * with a control or bidirectional-formatting character is refused, as no
 * engine makes one and every client would print it.
 */
export const name = (v: unknown, max = 256): string | undefined => {
  const s = str(v, max);
  return s !== undefined && !hasControl(s) ? s : undefined;
};
export const labelsOf = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v).slice(0, 256)) {
      const value = name(x);
      if (value !== undefined && !hasControl(k)) out[k.slice(0, 256)] = value;
    }
  }
  return out;
};

/** Compose, podman pods and Kubernetes, from the labels and annotations each leaves. */
export function grouping(labels: Record<string, string>): Pick<Container, 'pod' | 'project' | 'service'> {
  const podName = labels['io.kubernetes.pod.name'] ?? labels['io.kubernetes.cri.sandbox-name'];
  // As kubectl says a pod: NAMESPACE/NAME (CRI's annotations in containerd's and CRI-O's bundles carry both).
  const podNs = labels['io.kubernetes.pod.namespace'] ?? labels['io.kubernetes.cri.sandbox-namespace'];
  const pod = podName && podNs ? `${podNs}/${podName}` : podName;
  const project = labels['com.docker.compose.project'] ?? labels['io.podman.compose.project'];
  const service = labels['com.docker.compose.service'] ?? labels['io.podman.compose.service'];
  return { ...(pod ? { pod } : {}), ...(project ? { project } : {}), ...(service ? { service } : {}) };
}

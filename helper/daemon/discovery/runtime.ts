// Containers from the OCI runtime's state on disk, for when no engine's API
// answers (podman without podman.socket, an engine that is down): runc's
// state.json and its bundle's config.json, with the annotations Kubernetes
// and podman write there, named from what the engines keep on disk. Only
// files and folders root alone may write are believed.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from '../../common/protocol';
import { EngineContainer, grouping, labelsOf, MAX_CONTAINERS, name, str } from './engineJson';
import { parseStat, readFileCapped } from './procfs';

const MAX_CONFIG = 1024 * 1024;

/** A root-owned folder no one else may write: only such state is believed. */
function rootOwned(path: string): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  return st !== undefined && st.uid === 0 && (st.mode & 0o022) === 0;
}

/** Docker's name of a container ("/db" in its config.v2.json). */
function dockerName(id: string): string | undefined {
  return name(readJson(`/var/lib/docker/containers/${id}/config.v2.json`, MAX_CONFIG)?.Name)?.replace(/^\//, '');
}

/** Another program's JSON, from a file only root may write: every field is checked where it is used. */
function readJson(path: string, max: number): any {
  if (!rootOwned(path)) return undefined;
  const text = readFileCapped(path, 'utf8', max);
  try {
    const v = text ? JSON.parse(text) : undefined;
    return v && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** runc's state folders: podman's, Docker's (through containerd) and containerd's own, one per namespace. */
function runcStates(): string[] {
  const roots = ['/run/runc', '/run/docker/runtime-runc/moby'];
  for (const base of ['/run/containerd/runc']) {
    try {
      for (const ns of readdirSync(base)) roots.push(join(base, ns));
    } catch {
      // no containerd
    }
  }
  const states: string[] = [];
  for (const root of roots) {
    if (!rootOwned(root)) continue;
    try {
      for (const id of readdirSync(root))
        if (/^[0-9a-zA-Z][\w.-]{0,127}$/.test(id)) states.push(join(root, id, 'state.json'));
    } catch {
      // gone
    }
  }
  return states.slice(0, MAX_CONTAINERS);
}

/** podman's state database: BoltDB (podman 4) or SQLite (podman 5). */
const PODMAN_STATE = ['/var/lib/containers/storage/libpod/bolt_state.db', '/var/lib/containers/storage/db.sql'];
const MAX_STATE = 64 * 1024 * 1024;

/**
 * The names of podman's pods, by id, from its state database, for when its
 * API is not there to say them (no podman.socket: no systemd). Each pod's
 * config is a JSON object in it that begins {"id":"…","name":"…"; both
 * formats keep such small values whole in a page, so a search of the file
 * finds them. Written by hand because no library reads BoltDB from Node, and
 * running podman itself as root for it would cost a second and more a scan.
 */
function podNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const file of PODMAN_STATE) {
    if (!rootOwned(file)) continue;
    const text = readFileCapped(file, 'latin1', MAX_STATE);
    for (const m of text?.matchAll(/\{"id":"([0-9a-f]{64})","name":"([A-Za-z0-9][\w.-]{0,127})"/g) ?? [])
      names.set(m[1], m[2]);
  }
  return names;
}

/** Names and images the engines keep on disk: podman's containers/storage, Docker's config.v2.json of each container. */
function storedNames(): Map<string, { name: string; image: string }> {
  const names = new Map<string, { name: string; image: string }>();
  const podman = readJson('/var/lib/containers/storage/overlay-containers/containers.json', 4 * MAX_CONFIG);
  for (const c of Array.isArray(podman) ? podman.slice(0, MAX_CONTAINERS) : []) {
    let image = '';
    try {
      image = name(JSON.parse(String(c.metadata))['image-name']) ?? '';
    } catch {
      // no metadata
    }
    const stored = Array.isArray(c.names) ? name(c.names[0]) : undefined;
    if (typeof c.id === 'string' && stored) names.set(c.id, { name: stored, image });
  }
  return names;
}

/** Containers the OCI runtime knows of, named as well as their bundles' annotations and the engines' stores allow. */
export function fromRuntime(): EngineContainer[] {
  const found: EngineContainer[] = [];
  const stored = storedNames();
  let pods: Map<string, string> | undefined;
  for (const file of runcStates()) {
    const state = readJson(file, MAX_CONFIG);
    const pid = state?.init_process_pid;
    const id = str(state?.id, 128);
    if (!state || !id || !Number.isSafeInteger(pid) || (pid as number) < 1) continue;
    // State left behind by a container that died names a pid that may be someone else's by now.
    const stat = readFileCapped(`/proc/${pid}/stat`);
    if (!stat || parseStat(stat).starttime !== String(state.init_process_start)) continue;
    const cfgLabels = Array.isArray((state.config as { labels?: unknown })?.labels)
      ? (state.config as { labels: unknown[] }).labels
      : [];
    const bundle = cfgLabels
      .map((l) => (typeof l === 'string' && l.startsWith('bundle=') ? l.slice(7) : undefined))
      .find(Boolean);
    const config = bundle ? readJson(join(bundle, 'config.json'), MAX_CONFIG) : undefined;
    const annotations = labelsOf(config?.annotations);
    const proc = (config?.process ?? {}) as { env?: unknown; cwd?: unknown };
    const engine: Container['engine'] =
      annotations['io.container.manager'] === 'libpod'
        ? 'podman'
        : bundle?.includes('/moby/')
          ? 'docker'
          : annotations['io.kubernetes.cri-o.ContainerID']
            ? 'cri-o'
            : 'containerd';
    const containerName =
      annotations['io.kubernetes.cri.container-name'] ??
      annotations['io.kubernetes.container.name'] ??
      annotations['nerdctl/name'] ??
      stored.get(id)?.name ??
      dockerName(id) ??
      id.slice(0, 12);
    const hostname = name(config?.hostname, 253);
    const env = Array.isArray(proc.env) ? proc.env.filter((e): e is string => typeof e === 'string').slice(0, 256) : [];
    // A podman pod's containers carry its id (CRI-O's annotation); its name is in podman's state.
    const sandbox = engine === 'podman' ? annotations['io.kubernetes.cri-o.SandboxID'] : undefined;
    const pod = sandbox ? (pods ??= podNames()).get(sandbox) : undefined;
    found.push({
      engine,
      engineUid: 0,
      id,
      name: containerName,
      image: annotations['io.kubernetes.cri.image-name'] ?? stored.get(id)?.image ?? '',
      state: 'running',
      pid: pid as number,
      namespaces: [],
      source: 'oci',
      ...grouping(annotations),
      ...(pod ? { pod } : {}),
      ...(hostname ? { hostname } : {}),
      exec: async () => ({ env, cwd: str(proc.cwd, 4096) || '/', ...(hostname ? { hostname } : {}) }),
    });
  }
  return found;
}

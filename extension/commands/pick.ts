// Quick picks the commands share: a process, namespace types, root or not.
import * as vscode from 'vscode';
import { Container, NSTYPES, NsType, Process } from '../../helper/common/protocol';
import { engineLabel } from '../../helper/common/words';
import { differingTypes, processName } from '../tree/labels';
import type { Context } from './context';

export async function pickProcess(ctx: Context, title: string): Promise<Process | undefined> {
  if (!ctx.model.loaded) await ctx.refresh.rescan();
  const items = ctx.model
    .allProcesses()
    .map((p) => ({ p, differs: differingTypes(p, (t) => ctx.model.initialInode(t)) }))
    .sort((a, b) => Number(b.differs.length > 0) - Number(a.differs.length > 0) || a.p.pid - b.p.pid)
    .map(({ p, differs }) => ({
      // In a container, its name first: "web" finds web's processes, as people call them.
      label: processName(p, ctx.model.containerNameOf(p)),
      description: [p.user, differs.length ? `own ${differs.join(' ')}` : 'initial namespaces'].join(' · '),
      detail: p.cmdline.join(' ').slice(0, 200),
      p,
    }));
  return (await vscode.window.showQuickPick(items, { title, matchOnDescription: true, matchOnDetail: true }))?.p;
}

/** A running container, found by what people call it: name, image, pod or project, hostname, id. */
export async function pickContainer(ctx: Context, title: string): Promise<Container | undefined> {
  if (!ctx.model.loaded) await ctx.refresh.rescan();
  const running = ctx.model.allContainers().filter((c) => c.pid !== undefined);
  if (running.length === 0)
    throw new Error("No running container was found (nsxd asks Docker, podman and the OCI runtimes' state).");
  const items = [...running]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => ({
      label: c.name,
      description: `${engineLabel(c.engine, c.engineUid)} · ${c.image}`,
      detail: [
        c.pod ? `pod ${c.pod}` : '',
        c.project ? `compose ${c.project}${c.service ? `/${c.service}` : ''}` : '',
        c.hostname ? `hostname ${c.hostname}` : '',
        c.id.slice(0, 12),
      ]
        .filter(Boolean)
        .join(' · '),
      c,
    }));
  return (await vscode.window.showQuickPick(items, { title, matchOnDescription: true, matchOnDetail: true }))?.c;
}

export interface TypeChoice {
  types: NsType[];
  root: boolean;
  freshProc: boolean;
}

const AS_ROOT = '$(shield) as root';
const FRESH_PROC = '$(file-submodule) fresh /proc';

/**
 * Which namespace types (all preselected, as nsenter --all), whether as root
 * where the policy grants it, and for joins whether to mount a /proc of the
 * joined pid namespace in a private mount namespace.
 */
export async function pickTypes(
  ctx: Context,
  title: string,
  available: NsType[],
  preselected: NsType[],
  joining = false,
  differs: NsType[] = [],
): Promise<TypeChoice | undefined> {
  const identity = ctx.connection.identity;
  // Which ones differ from the host's is what tells a join from no join at all.
  const items: vscode.QuickPickItem[] = NSTYPES.filter((t) => available.includes(t)).map((t) => ({
    label: t,
    picked: preselected.includes(t),
    ...(differs.includes(t) ? { description: "$(circle-filled) not the host's" } : {}),
  }));
  if (joining && available.includes('pid'))
    items.push({
      label: FRESH_PROC,
      description:
        'a private mount namespace whose /proc shows the joined pid namespace (as ip netns exec remounts /sys)',
    });
  if (identity?.rootShells && identity.uid !== 0)
    items.push({ label: AS_ROOT, description: 'the policy grants you root shells', picked: false });
  const who =
    identity?.uid === 0
      ? 'as root'
      : identity?.rootShells
        ? `as ${identity.user} (or root, if picked)`
        : `as ${identity?.user ?? 'you'} (no root shells granted)`;
  const picked = await vscode.window.showQuickPick(items, { canPickMany: true, title: `${title} — ${who}` });
  if (!picked) return undefined;
  const labels = picked.map((p) => p.label);
  const types = labels.filter((l) => l !== AS_ROOT && l !== FRESH_PROC) as NsType[];
  if (types.length === 0) throw new Error('Pick at least one namespace type.');
  const freshProc = labels.includes(FRESH_PROC);
  if (freshProc && !types.includes('pid')) throw new Error('A fresh /proc shows a joined pid namespace: pick pid too.');
  return { types, root: labels.includes(AS_ROOT), freshProc };
}

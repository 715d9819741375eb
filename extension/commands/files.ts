// Files commands: Open Files on a container, a process or a mnt namespace
// (a workspace folder on nsx-files, or, in a window with no folder, a file
// picked there), and Download… of a file of theirs to the host, in chunks,
// whatever its size.
import { closeSync, openSync, writeSync } from 'node:fs';
import * as vscode from 'vscode';
import type { FilesTarget } from '../../helper/common/files';
import { FILES_SCHEME, filesUri } from '../files/provider';
import { ContainerNode, NamespaceNode, ProcessNamespaceNode, ProcessNode } from '../tree/nodes';
import type { Commands, Context } from './context';

/** The root a tree row leads to: a running container's, a process's, a mnt namespace's. */
function targetOfNode(ctx: Context, node: unknown): FilesTarget | undefined {
  if (node instanceof ContainerNode) {
    const c = ctx.model.container(node.containerId);
    return c?.pid !== undefined ? { container: c.name } : undefined;
  }
  if (node instanceof ProcessNode || (node instanceof ProcessNamespaceNode && node.key.type === 'mnt'))
    return { pid: node.pid };
  if (node instanceof NamespaceNode && node.key.type === 'mnt') return { mnt: node.key.inode };
  return undefined;
}

export function filesCommands(ctx: Context): Commands {
  const provider = ctx.files;
  return {
    'nsx.openFiles': (node?: unknown, opts?: OpenOptions) => openFiles(ctx, node, opts),
    'nsx.openFilesAsRoot': (node?: unknown, opts?: OpenOptions) => openFiles(ctx, node, { ...opts, root: true }),
    /** What changed inside the open roots since they were listed (as the window's focus does). */
    'nsx.refreshFiles': () => provider.refreshOpen(),
    /** A file of a container (of any host: its URI says which) to a file here the user picks (or opts.to), streamed in chunks. */
    'nsx.downloadFile': async (uri?: vscode.Uri, opts?: { to?: string }) => {
      if (uri?.scheme !== FILES_SCHEME) throw new Error('Download… works on a file of a container (nsx-files:).');
      const name = uri.path.split('/').pop() || 'download';
      const to =
        opts?.to ??
        (await vscode.window.showSaveDialog({ title: `Download ${uri.path}`, defaultUri: vscode.Uri.file(name) }))
          ?.fsPath;
      if (!to) return undefined;
      const files = await provider.files(uri);
      return vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Downloading ${uri.path}`, cancellable: false },
        async () => {
          const fd = openSync(to, 'w', 0o600);
          try {
            return await files.download(uri.path, (chunk) => void writeSync(fd, chunk));
          } finally {
            closeSync(fd);
          }
        },
      );
    },
  };
}

/** opts.target (a FilesTarget) from another extension or a test; opts.noFolder: only return the root's URI. */
interface OpenOptions {
  target?: FilesTarget;
  noFolder?: boolean;
  root?: boolean;
}

async function openFiles(ctx: Context, node: unknown, opts?: OpenOptions): Promise<vscode.Uri> {
  const target = opts?.target ?? targetOfNode(ctx, node);
  if (!target) throw new Error('Open Files works on a running container, a process or a mnt namespace.');
  const uri = filesUri(target, '/', opts?.root === true, ctx.host.local ? undefined : ctx.host.name);
  await ctx.files.stat(uri); // opened now: a refusal is said here, not by an empty folder
  if (opts?.noFolder) return uri;
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.some((f) => f.uri.toString() === uri.toString())) return uri;
  if (folders.length) {
    const what = 'container' in target ? target.container : uri.authority.replace(/^root@/, '').replace(/~.*/, '');
    const name = `${what}${ctx.host.on} (files${opts?.root ? ', as root' : ''})`;
    vscode.workspace.updateWorkspaceFolders(folders.length, 0, { uri, name });
    return uri;
  }
  const picked = await vscode.window.showOpenDialog({ defaultUri: uri, canSelectMany: true, title: 'Open a file' });
  for (const file of picked ?? []) await vscode.window.showTextDocument(file, { preview: false });
  return uri;
}

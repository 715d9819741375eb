// The extension as a user installs it: run from the folder the packaged
// .vsix unpacks to (what VS Code installs), in a fresh profile, not from the
// checkout. It connects, lists, and opens a terminal whose shell answers.
// Ends with `N passed, N failed`.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Api } from '../../extension/extension';
import type { NsTerminal } from '../../extension/terminal';
import { waitFor } from '../support';

export async function run(): Promise<void> {
  const unpacked = process.env.NSX_PACKAGED;
  try {
    const extension = vscode.extensions.all.find((e) => e.packageJSON.name === 'namespace-explorer');
    assert.ok(extension, 'the extension is installed');
    assert.equal(extension.extensionPath, unpacked, 'the packaged copy, not the checkout');
    const api = (await extension.activate()) as Api;
    await waitFor(() => api.connection.connected, 30_000, 'connected to nsxd');
    await api.model.rescan();
    assert.ok(
      api.model.allNamespaces().some((ns) => ns.initial),
      "the host's namespaces listed",
    );
    const t = (await vscode.commands.executeCommand('nsx.openIsolatedTerminal', {
      types: ['uts'],
      hostname: 'packaged',
    })) as NsTerminal;
    await waitFor(() => t.session, 30_000, 'the session');
    t.terminal!.sendText("hostname; echo D''ONE");
    await waitFor(() => /packaged\r?\n[\s\S]*DONE/.test(t.output), 30_000, 'the shell answering in its namespace');
    t.terminal!.dispose();
  } catch (err) {
    console.log(`  1) the packaged .vsix, installed: ${(err as Error).stack}`);
    console.log('0 passed, 1 failed');
    throw err;
  }
  console.log('  ✔ the packaged .vsix, installed: it connects, lists, and opens a terminal in fresh namespaces');
  console.log('1 passed, 0 failed');
}

// Getting nsxd going: start it in a terminal, install the systemd units,
// join the group; reconnect and the connection log.
import * as vscode from 'vscode';
import { DEFAULT_GROUP } from '../../helper/common/deployment';
import type { Commands, Context } from './context';

function runInTerminal(name: string, command: string): void {
  const terminal = vscode.window.createTerminal({ name, iconPath: new vscode.ThemeIcon('shield') });
  terminal.show();
  terminal.sendText(command);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function daemonCommands(ctx: Context): Commands {
  const root = ctx.extension.extensionPath;
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  return {
    'nsx.startDaemon': () => {
      const socket = ctx.connection.socketPath;
      runInTerminal(
        'nsxd',
        `${sudo}${shellQuote(process.execPath)} ${shellQuote(`${root}/dist/nsxd.js`)} --socket ${shellQuote(socket)}`,
      );
      setTimeout(() => void ctx.connection.connect(), 1500);
    },
    'nsx.installUnits': () => {
      // install.sh says what it did and how nsxd starts (socket activation, or by hand where there is no systemd).
      runInTerminal(
        'nsxd install',
        `${sudo}bash ${shellQuote(`${root}/helper/daemon/systemd/install.sh`)} && echo 'Done; this terminal may be closed.'`,
      );
    },
    'nsx.addToGroup': () => {
      const user = process.env.USER ?? '$USER';
      runInTerminal(
        'nsx group',
        `${sudo}usermod -aG ${DEFAULT_GROUP} ${shellQuote(user)} && echo 'Added. Log out and in again (or restart VS Code) for the membership to take effect.'`,
      );
    },
    'nsx.reconnect': () => ctx.connection.connect(),
    'nsx.showOutput': () => ctx.connection.output.show(),
  };
}

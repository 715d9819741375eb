// The ssh command line nsx --host uses (helper/common/bridge.ts), for any remote command: plain ssh in
// the benchmark goes over the same master connection as nsx.
import { join } from 'node:path';
import { sshArgv } from '../../helper/common/bridge';

export function controlDirOf(home: string): string {
  return join(home, '.cache', 'nsx', 'ssh');
}

export function sshArgvFor(dest: string, control: string, command: string[], tty: boolean): string[] {
  const argv = sshArgv({ name: 'bench', ssh: dest }, control);
  const base = argv.slice(0, argv.indexOf(dest) + 1);
  return [base[0], ...(tty ? ['-tt'] : []), ...base.slice(1).filter((a) => a !== '-T' || !tty), ...command];
}

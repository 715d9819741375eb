// hosts.json becomes ssh's and kubectl's command lines: what may not be in it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sshArgv } from '../../helper/common/bridge';
import { hostsFile, parseHosts } from '../../helper/common/hosts';

describe('hosts.json', () => {
  it('reads ssh and kubectl hosts', () => {
    const hosts = parseHosts(
      JSON.stringify([
        { name: 'lab2', ssh: 'me@lab2', sshOptions: { Port: '2222' } },
        { name: 'node-a', kubectl: { context: 'prod', node: 'node-a' } },
      ]),
      'hosts.json',
    );
    assert.deepEqual(hosts[1], {
      name: 'node-a',
      kubectl: { node: 'node-a', namespace: 'nsx-system', context: 'prod' },
    });
    const argv = sshArgv(hosts[0] as never, '/c');
    // The user's options first (ssh keeps the first value it reads), the destination after `--`.
    assert.deepEqual(argv.slice(0, 4), ['ssh', '-T', '-o', 'Port=2222']);
    assert.deepEqual(argv.slice(-4), ['--', 'me@lab2', 'nsx', 'bridge']);
    assert.ok(argv.includes('BatchMode=yes') && argv.includes('ControlPath=/c/%C'));
  });

  it('refuses what would be read as an option or carries control characters', () => {
    const bad = [
      { name: 'x', ssh: '-oProxyCommand=touch /tmp/p' },
      { name: 'x', ssh: 'me@host\nnsx' },
      { name: 'x', ssh: 'a b' },
      { name: 'x', ssh: 'h', sshOptions: { ProxyCommand: '-x' } },
      { name: 'x', ssh: 'h', sshOptions: { 'Port 22\nX': '1' } },
      { name: 'x', kubectl: { node: '--kubeconfig=/etc/x' } },
      { name: '../x', ssh: 'h' },
      { name: 'x' },
    ];
    for (const h of bad) assert.throws(() => parseHosts(JSON.stringify([h]), 'f'), /f: /, JSON.stringify(h));
    assert.throws(() => parseHosts('{}', 'f'), /must be a list/);
  });

  it('lives in XDG_CONFIG_HOME when set, else ~/.config', () => {
    assert.equal(hostsFile({ XDG_CONFIG_HOME: '/x', HOME: '/h' }), '/x/nsx/hosts.json');
    assert.equal(hostsFile({ HOME: '/h' }), '/h/.config/nsx/hosts.json');
  });
});

// The capture contract's checks and words, and nsx capture's command line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  captureSummary,
  capturingOn,
  interfaceLabel,
  isInterfaceName,
  parseCaptureParams,
  parseCaptureStart,
  pickedTargets,
} from '../../helper/common/capture';
import { captureArgv, captureTarget, parseCaptureArgs } from '../../helper/cli/capture';

const ns = { type: 'net' as const, inode: 4026531840 };

describe('capture contract', () => {
  it('takes interface names as the kernel does', () => {
    for (const ok of ['eth0', 'veth8da38ea9', 'q"\x01z', 'a@b', 'x'.repeat(15)]) assert.ok(isInterfaceName(ok), ok);
    for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'a\0', 'x'.repeat(16), 'é'.repeat(8)])
      assert.ok(!isInterfaceName(bad), JSON.stringify(bad));
  });

  it('parses a start, and refuses what is not one in words', () => {
    assert.deepEqual(
      parseCaptureStart({
        targets: [{ target: { container: 'web' }, interfaces: ['eth0'] }, { target: { pid: 12 } }],
        filter: 'icmp',
        count: 3,
      }),
      {
        targets: [{ target: { container: 'web' }, interfaces: ['eth0'] }, { target: { pid: 12 } }],
        filter: 'icmp',
        count: 3,
      },
    );
    assert.deepEqual(
      parseCaptureStart({ targets: [{ target: { pid: 1 }, interfaces: ['lo', 'eth0', 'lo'] }] }).targets[0].interfaces,
      ['lo', 'eth0'],
    );
    assert.deepEqual(parseCaptureStart({ targets: [{ target: { pin: { name: 'blue' } } }] }).targets, [
      { target: { pin: { type: 'net', name: 'blue' } } },
    ]);
    const refused = (params: unknown, words: RegExp) => assert.throws(() => parseCaptureStart(params), words);
    refused({ targets: [] }, /targets must name from 1 to 16/);
    refused({ targets: Array(17).fill({ target: { pid: 1 } }) }, /from 1 to 16/);
    refused({ targets: [{ target: { namespace: { type: 'uts', inode: 5 } } }] }, /network namespaces, not in uts/);
    refused({ targets: [{ target: { pin: { name: '../x' } } }] }, /bad pin name/);
    refused({ targets: [{ target: { container: '-rf' } }] }, /must name the host, a pid/);
    refused({ targets: [{ target: { pid: 1 }, interfaces: ['a/b'] }] }, /not an interface name: "a\/b"/);
    refused({ targets: [{ target: { pid: 1 } }], seconds: 86_401 }, /seconds must be an integer from 1 to 86400/);
    refused({ targets: [{ target: { pid: 1 } }], count: 0 }, /count must be/);
    refused({ targets: [{ target: { pid: 1 } }], snaplen: 10 }, /snaplen must be at least 64/);
    refused({ targets: [{ target: { pid: 1 } }], filter: 'x'.repeat(4097) }, /filter must be a string/);
    assert.throws(() => parseCaptureParams({ capture: 0 }), /capture must be/);
  });

  it('names interfaces as tcpdump would, quoting and escaping hostile ones', () => {
    assert.equal(interfaceLabel({ name: 'eth0', where: 'web' }), 'eth0@web');
    assert.equal(interfaceLabel({ name: 'eth0', where: 'net:[4026531840]' }), 'eth0@net:[4026531840]');
    assert.equal(interfaceLabel({ name: 'q"\x01z\x1b', where: 'a' }), '"q\\"\\x01z\\x1b@a"');
    assert.equal(interfaceLabel({ name: 'a\\b', where: 'a' }), '"a\\\\b@a"');
    const i = (name: string, where: string) => ({ name, where, namespace: ns, linktype: 1 });
    assert.equal(capturingOn([i('eth0', 'web'), i('eth0', 'db')]), 'capturing on eth0@web, eth0@db');
    assert.equal(captureSummary({ packets: 1, dropped: 0 }), '1 packet captured, 0 dropped');
    assert.equal(captureSummary({ packets: 12, dropped: 3 }), '12 packets captured, 3 dropped');
  });
});

describe('picked interfaces', () => {
  it('go back to their targets: all of one (none named), some of another, none of a third (left out)', () => {
    const at = (inode: number, name: string) => ({
      name,
      where: String(inode),
      namespace: { type: 'net' as const, inode },
      linktype: 1,
    });
    const listed = [at(7, 'lo'), at(7, 'eth0'), at(5, 'lo'), at(5, 'eth0'), at(5, 'eth1'), at(9, 'lo')];
    const targets = [{ container: 'web' }, { pid: 12 }, { host: true as const }];
    assert.deepEqual(pickedTargets(targets, listed, [listed[0], listed[1], listed[4]]), [
      { target: { container: 'web' } },
      { target: { pid: 12 }, interfaces: ['eth1'] },
    ]);
    assert.deepEqual(pickedTargets(targets, listed, []), []);
  });
});

describe('nsx capture command line', () => {
  it('is found after an optional --socket', () => {
    assert.deepEqual(captureArgv(['capture', 'web']), ['web']);
    assert.deepEqual(captureArgv(['--socket', '/s', 'capture', 'web']), ['--socket', '/s', 'web']);
    assert.deepEqual(captureArgv(['--socket=/s', 'capture', 'web']), ['--socket=/s', 'web']);
    assert.equal(captureArgv(['list']), undefined);
  });

  it('reads targets as people type them', () => {
    assert.deepEqual(captureTarget('1234'), { pid: 1234 });
    assert.deepEqual(captureTarget('host'), { host: true });
    assert.deepEqual(captureTarget('net:[4026531840]'), { namespace: ns });
    assert.deepEqual(captureTarget('net:4026531840'), { namespace: ns });
    assert.deepEqual(captureTarget('pin:blue'), { pin: { type: 'net', name: 'blue' } });
    assert.deepEqual(captureTarget('web'), { container: 'web' });
  });

  it('binds -i to the target before it, or to every target when it comes first', () => {
    const { params, write } = parseCaptureArgs(['-i', 'lo', 'web', '-i', 'eth0', 'db', '-c', '5', '-w', '-']);
    assert.equal(write, '-');
    assert.deepEqual(params, {
      targets: [
        { target: { container: 'web' }, interfaces: ['lo', 'eth0'] },
        { target: { container: 'db' }, interfaces: ['lo'] },
      ],
      count: 5,
    });
    assert.throws(() => parseCaptureArgs(['web']), /capture wants -w FILE/);
    assert.throws(() => parseCaptureArgs(['-w', 'f']), /capture wants a TARGET/);
    assert.throws(() => parseCaptureArgs(['web', '-c', 'x', '-w', 'f']), /-c must be a positive number/);
  });
});

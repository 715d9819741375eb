// A host in a URI's authority (extension/hostUri.ts): this host's URIs keep
// their empty authority; a name with upper case goes as `~` and its hex, as
// VS Code folds an authority's case; what names no host is refused. And
// whose is a connection to 127.0.0.1 (helper/common/tcpPeer.ts), from a real
// connection of this process.
import assert from 'node:assert/strict';
import { createConnection, createServer, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { hostOfPart, hostPart } from '../../extension/hostUri';
import { tcpPeerUid } from '../../helper/common/tcpPeer';

describe('hosts in URIs', () => {
  it('leaves this host empty, a lower-case name as it is, and hex-encodes one with upper case', () => {
    assert.equal(hostPart(undefined), '');
    assert.equal(hostOfPart(''), undefined);
    assert.equal(hostPart('h24vb'), 'h24vb');
    assert.equal(hostPart('Lab2'), '~4c616232');
    for (const name of ['h24vb', 'Lab2', 'lab2', 'node-a.b_c', 'LOCAL', 'local'])
      assert.equal(hostOfPart(hostPart(name)), name);
    // Two names that VS Code's case folding would merge stay two.
    assert.notEqual(hostPart('Lab2').toLowerCase(), hostPart('lab2').toLowerCase());
  });

  it('refuses a part that names no host', () => {
    for (const bad of ['~', '~zz', '~2e2e2f78', 'a b', 'x/y', `~${Buffer.from('a\nb').toString('hex')}`])
      assert.throws(() => hostOfPart(bad), /names no host/, bad);
  });
});

describe('tcpPeerUid', () => {
  it('says whose socket made a connection to 127.0.0.1, and nothing for one that is not there', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = createConnection({ host: '127.0.0.1', port });
    const socket = await accepted;
    try {
      const peer = { address: socket.remoteAddress!, port: socket.remotePort! };
      assert.equal(tcpPeerUid(peer, { address: '127.0.0.1', port }), process.getuid!());
      assert.equal(tcpPeerUid({ ...peer, port: peer.port === 1 ? 2 : 1 }, { address: '127.0.0.1', port }), undefined);
      assert.equal(tcpPeerUid({ address: '::1', port: peer.port }, { address: '127.0.0.1', port }), undefined);
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  });
});

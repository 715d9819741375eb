// A JSON-RPC message writer that puts each message on its stream (a socket,
// a bridge's pipe) in one write. vscode-jsonrpc's stream writer writes the header, waits for that
// write's callback, then writes the body: two syscalls and an event-loop turn
// a message, and the reader woken twice, on every keystroke and every chunk
// of a terminal's output. Corked, the header and body go out as one writev.
import type { Duplex } from 'node:stream';
import { AbstractMessageWriter, Message, MessageWriter } from 'vscode-jsonrpc';

export class SocketMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private errors = 0;

  constructor(private readonly socket: Duplex) {
    super();
    socket.on('error', (err) => this.fireError(err));
    socket.on('close', () => this.fireClose());
  }

  /** Messages go out in the order write() is called: it queues synchronously, and a socket keeps its writes' order. */
  write(msg: Message): Promise<void> {
    const body = Buffer.from(JSON.stringify(msg), 'utf8');
    return new Promise((resolve, reject) => {
      this.socket.cork();
      this.socket.write(`Content-Length: ${body.byteLength}\r\n\r\n`, 'ascii');
      this.socket.write(body, (err) => {
        if (!err) return resolve();
        this.fireError(err, msg, ++this.errors);
        reject(err);
      });
      this.socket.uncork();
    });
  }

  end(): void {
    this.socket.end();
  }
}

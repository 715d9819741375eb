// A JSON-RPC message writer that puts each message on its stream (a socket,
// a bridge's pipe) in one write. vscode-jsonrpc's stream writer writes the header, waits for that
// write's callback, then writes the body: two syscalls and an event-loop turn
// a message, and the reader woken twice, on every keystroke and every chunk
// of a terminal's output. Corked, the header and body go out as one writev.
import type { Duplex } from 'node:stream';
import { AbstractMessageWriter, Message, MessageWriter, ResponseMessage } from 'vscode-jsonrpc';

/**
 * A result written as JSON once, for every answer of it: a list of 20,000
 * processes is 4.5 MB of JSON, three times that in garbage and 60 ms to
 * write, for each caller of a model that has not changed.
 */
export class JsonResult {
  readonly json: Buffer;

  constructor(value: unknown) {
    this.json = json(value);
  }
}

export class SocketMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private errors = 0;

  constructor(private readonly socket: Duplex) {
    super();
    socket.on('error', (err) => this.fireError(err));
    socket.on('close', () => this.fireClose());
  }

  /** Messages go out in the order write() is called: it queues synchronously, and a socket keeps its writes' order. */
  write(msg: Message): Promise<void> {
    const result = Message.isResponse(msg) ? msg.result : undefined;
    const body = result instanceof JsonResult ? around(msg as ResponseMessage, result.json) : [json(msg)];
    const length = body.reduce((sum, part) => sum + part.byteLength, 0);
    const last = body.pop()!;
    return new Promise((resolve, reject) => {
      this.socket.cork();
      this.socket.write(`Content-Length: ${length}\r\n\r\n`, 'ascii');
      for (const part of body) this.socket.write(part);
      this.socket.write(last, (err) => {
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

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/** A response whose result is RESULT's JSON, in three parts: the bytes of the result are not copied. */
function around(msg: ResponseMessage, result: Buffer): Buffer[] {
  const head = JSON.stringify({ jsonrpc: msg.jsonrpc, id: msg.id });
  return [Buffer.from(`${head.slice(0, -1)},"result":`, 'utf8'), result, Buffer.from('}')];
}

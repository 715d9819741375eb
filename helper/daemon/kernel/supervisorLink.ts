// nsxd's end of a session supervisor's socket (native/nsx-session.c): frames
// of a type byte, a 4-byte big-endian length and the payload. The hello
// carries the shell's pid and what nsxd stored about the session when it
// opened it, which is how a restarted nsxd knows whose it is.
import { createConnection, Socket } from 'node:net';

/** What nsxd keeps with a session, in its supervisor: enough to authorise a re-attach and answer it. */
export interface SessionInfo {
  /** The uid that opened it: only it may attach. */
  owner: number;
  /** That uid's account name then: a new account given the same uid is not the owner. */
  account?: string;
  /** Its shell is root's though its owner is not: attaching needs the right to root shells still. */
  root: boolean;
  /** It waits to be attached again when its connection goes without closing it. */
  persistent?: boolean;
  pty: boolean;
  title: string;
  namespaces: { type: string; inode: number }[];
  user: string;
  uid: number;
  cgroup?: string;
}

export interface Hello {
  pid: number;
  info?: SessionInfo;
}

export interface LinkEvents {
  output(data: Buffer, stream?: 'stderr'): void;
  exit(code: number, signal: number): void;
  /** The supervisor's socket closed: with no exit before it, the supervisor is gone. */
  closed(): void;
}

const MAX_FRAME = 1024 * 1024 + 64;

export class SupervisorLink {
  private buffered: Buffer = Buffer.alloc(0);
  private events: LinkEvents | undefined;
  private hello?: (h: Hello) => void;

  private constructor(
    readonly socket: Socket,
    /** The supervisor relays to this link without an A: it is the one nsxd handed it as it started. */
    private adopted = false,
  ) {
    socket.on('data', (chunk) => this.receive(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.events?.closed());
  }

  /** Connects and reads the hello; fails if nothing answers (the session ended). */
  static async connect(path: string, timeoutMs = 2000): Promise<{ link: SupervisorLink; hello: Hello }> {
    const socket = createConnection(path);
    const link = new SupervisorLink(socket);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('the session supervisor did not answer'));
      }, timeoutMs);
    });
    try {
      return { link, hello: await Promise.race([link.greeting(), late]) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The link over the connection nsxd handed the supervisor it started, which has the session already. */
  static handed(socket: Socket): { link: SupervisorLink; hello: Promise<Hello> } {
    const link = new SupervisorLink(socket, true);
    return { link, hello: link.greeting() };
  }

  /** The supervisor's hello; fails if the connection fails or closes first. */
  private greeting(): Promise<Hello> {
    const { socket } = this;
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('the session supervisor closed the connection')));
      this.hello = (hello) => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        resolve(hello);
      };
    });
  }

  /** From here on output and the exit go to these. */
  listen(events: LinkEvents): void {
    this.events = events;
    this.socket.resume();
    this.receive(Buffer.alloc(0));
    if (this.socket.destroyed) events.closed();
  }

  /** A client has the session: the supervisor sends its output, and its orphan clock stops. */
  adopt(): void {
    if (!this.adopted) this.send('A');
    this.adopted = true;
  }

  store(info: SessionInfo): void {
    this.send('S', Buffer.from(JSON.stringify(info)));
  }

  input(data: Buffer, written: () => void): void {
    this.send('D', data, written);
  }

  endInput(): void {
    this.send('C');
  }

  resize(rows: number, cols: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(rows, 0);
    b.writeUInt16BE(cols, 2);
    this.send('W', b);
  }

  kill(): void {
    this.send('K');
  }

  /** Ends the session nsxd found without a client: killed, its exit taken, so its supervisor goes too. */
  end(timeoutMs = 3000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.detach();
        resolve();
      }, timeoutMs);
      this.listen({
        output: () => undefined,
        exit: () => undefined,
        closed: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.adopt();
      this.kill();
    });
  }

  /** nsxd lets go and the session waits for the next nsxd (the orphan timeout runs). */
  detach(): void {
    this.events = undefined;
    this.socket.destroy();
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  private send(type: string, payload: Buffer = Buffer.alloc(0), written?: () => void): void {
    if (this.socket.destroyed) return void written?.();
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(payload.length, 1);
    this.socket.write(Buffer.concat([head, payload]), () => written?.());
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 5) {
      // Between the hello and listen() (nsxd is deciding whether to attach), frames wait here and in the socket.
      if (!this.hello && !this.events) return void this.socket.pause();
      const len = this.buffered.readUInt32BE(1);
      if (len > MAX_FRAME) return void this.socket.destroy();
      if (this.buffered.length < 5 + len) return;
      const type = String.fromCharCode(this.buffered[0]);
      const payload = this.buffered.subarray(5, 5 + len);
      this.buffered = this.buffered.subarray(5 + len);
      this.frame(type, payload);
    }
  }

  private frame(type: string, payload: Buffer): void {
    if (type === 'H' && this.hello) {
      let info: SessionInfo | undefined;
      try {
        info = payload.length > 4 ? (JSON.parse(payload.subarray(4).toString()) as SessionInfo) : undefined;
      } catch {
        info = undefined;
      }
      const done = this.hello;
      this.hello = undefined;
      done({ pid: payload.readUInt32BE(0), info });
    } else if (type === 'O' || type === 'E') {
      // Copied: the payload is a view of a buffer the next chunk replaces.
      this.events?.output(Buffer.from(payload), type === 'E' ? 'stderr' : undefined);
    } else if (type === 'X' && payload.length === 8) {
      this.events?.exit(payload.readInt32BE(0), payload.readInt32BE(4));
    }
  }
}

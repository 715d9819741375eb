// What every client of a session does the same way (nsx attach, the
// extension's terminals): open it or attach to it again, send its input one
// request at a time, acknowledge its output once it is written or shown,
// resize it and close it. Each side keeps only what is its own: where input
// comes from and output goes, and what to do when nsxd goes.
import type { NotificationType, RequestType } from 'vscode-jsonrpc';
import {
  ErrorCodes,
  TerminalAck,
  TerminalAttach,
  TerminalAttachParams,
  TerminalClose,
  TerminalEndInput,
  TerminalInput,
  TerminalOpen,
  TerminalOpenParams,
  TerminalOpenResult,
  TerminalResize,
} from './protocol';

const TRIES = 20;

/**
 * terminal/attach, sent again while nsxd answers that the session is busy
 * (another attach of it, from a second window or a reconnect that raced this
 * one, is connecting to its supervisor): busy is never gone.
 */
/**
 * Over a bridge to another host, the session may still be held for the link
 * that dropped until that host's sshd notices it is dead (ClientAliveInterval
 * × ClientAliveCountMax): attached elsewhere (Conflict, Busy) or not yet
 * waiting (NotFound). A client attaching again waits that out, a while.
 */
export const HELD_FOR_OLD_LINK: number[] = [ErrorCodes.Conflict, ErrorCodes.Busy, ErrorCodes.NotFound];
export const HOLD_MS = 180_000;

export async function attachAgain(
  send: (params: TerminalAttachParams) => Promise<TerminalOpenResult>,
  params: TerminalAttachParams,
): Promise<TerminalOpenResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(params);
    } catch (err) {
      // By its code: the extension's errors come from vscode-languageclient's own copy of vscode-jsonrpc.
      if ((err as { code?: unknown }).code !== ErrorCodes.Busy || attempt >= TRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
    }
  }
}

/**
 * What a session client needs of its connection to nsxd: the part that
 * vscode-jsonrpc's MessageConnection (nsx) and vscode-languageclient's
 * LanguageClient (the extension) have alike. Notifications from nsxd are
 * routed by each side, which knows its connections.
 */
export interface SessionConnection {
  sendRequest<P, R, E>(type: RequestType<P, R, E>, params: P): Promise<R>;
  sendNotification<P>(type: NotificationType<P>, params?: P): Promise<void>;
}

/** Around each input request: nsx stops reading stdin while one is in flight, so that input waits in the kernel, not in nsx. */
export interface InputPacing {
  sending?(): void;
  sent?(): void;
}

/** One session, as one client sees it. */
export class SessionClient {
  /** The session once opened (or attached to again); set beforehand to attach again to one remembered. */
  opened: TerminalOpenResult | undefined;
  /** The session is over for this client: nothing more is sent (late acks would write to a closing socket). */
  over = false;
  /** nsxd is away: input, resizes and close wait for it (the extension's terminals attach again). */
  held = false;
  private conn: SessionConnection | undefined;
  // Each side sends one kind: nsx Buffers from stdin, the extension strings from VS Code.
  private queued: (Buffer | string)[] = [];
  /**
   * The connection input is being sent on. A request in flight when nsxd went
   * may never be answered (vscode-languageclient leaves a connection whose
   * shutdown could not be written undisposed, and its requests pending), so
   * input after attaching again is sent on the new connection, not queued
   * behind it.
   */
  private sendingOn: SessionConnection | undefined;
  private inputEnded = false;

  constructor(private readonly pacing: InputPacing = {}) {}

  /** terminal/open. */
  async open(conn: SessionConnection, params: TerminalOpenParams): Promise<TerminalOpenResult> {
    this.conn = conn;
    this.opened = await conn.sendRequest(TerminalOpen, params);
    return this.opened;
  }

  /** terminal/attach, again while busy (attachAgain); with the output the session printed meanwhile following as terminal/output. */
  async attach(conn: SessionConnection, params: TerminalAttachParams): Promise<TerminalOpenResult> {
    this.conn = conn;
    this.opened = await attachAgain((p) => conn.sendRequest(TerminalAttach, p), params);
    return this.opened;
  }

  /** Output from nsxd (base64): acknowledged once SHOW has written or shown it, so a flood is paced by whoever shows it. */
  output(data: string, show: (bytes: Buffer) => Promise<void>): void {
    const bytes = Buffer.from(data, 'base64');
    void show(bytes).then(() => {
      if (this.opened) void this.notify(TerminalAck, { session: this.opened.session, bytes: bytes.length });
    });
  }

  /** Input for the session; what arrives while a request is in flight is sent together in the next one. */
  input(data: Buffer | string): void {
    this.queued.push(data);
    void this.flush();
  }

  /** Input is over (a pipe's end): once what is queued is sent, the session's stdin is closed. */
  endInput(): void {
    this.inputEnded = true;
    void this.flush();
  }

  /** Sends what is queued, one terminal/input request in flight at a time (and again once attached after nsxd was away). */
  async flush(): Promise<void> {
    const conn = this.conn;
    if (!this.opened || !conn || this.sendingOn === conn) return;
    const session = this.opened.session;
    this.sendingOn = conn;
    while (this.queued.length && !this.over && !this.held && this.conn === conn) {
      const data =
        typeof this.queued[0] === 'string' ? Buffer.from(this.queued.join('')) : Buffer.concat(this.queued as Buffer[]);
      this.queued = [];
      this.pacing.sending?.();
      try {
        await conn.sendRequest(TerminalInput, { session, data: data.toString('base64') });
      } catch {
        break; // the session ended, or nsxd went
      }
      this.pacing.sent?.();
    }
    if (this.sendingOn !== conn) return; // attached again meanwhile: that connection's flush goes on
    this.sendingOn = undefined;
    if (this.inputEnded) void this.notify(TerminalEndInput, { session });
  }

  resize(cols: number, rows: number): void {
    if (this.opened && !this.held) void this.notify(TerminalResize, { session: this.opened.session, cols, rows });
  }

  /** Ends the session: its whole process tree goes. */
  close(): void {
    if (this.opened && !this.held) void this.notify(TerminalClose, { session: this.opened.session });
  }

  /** A notification nobody waits for: an error means the session or the connection is gone, which its other messages say. */
  private notify<P>(type: NotificationType<P>, params: P): Promise<void> {
    return this.over || !this.conn
      ? Promise.resolve()
      : this.conn.sendNotification(type, params).catch(() => undefined);
  }
}

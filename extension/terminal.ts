// Integrated terminals whose shell runs in nsxd: a Pseudoterminal relaying
// a session's pty, through the client every side shares (SessionClient).
// Output is acknowledged a turn of the event loop after it is handed to VS
// Code, so a flood is paced by the extension host instead of queueing in it;
// input is sent one request at a time. When nsxd goes the
// shell lives on in its supervisor, and the terminal attaches to it again as
// soon as nsxd is back, with what it printed meanwhile. Sessions are opened
// persistent and remembered in the workspace's state: a window reloaded (or
// a browser tab closed) leaves them waiting, and the next activation gives
// each back as a terminal of the same name. Only a terminal the user (or an
// extension) closes ends its session.
import { StringDecoder } from 'node:string_decoder';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { NsKey, TerminalExit, TerminalOpenParams, TerminalOpenResult, TerminalOutput } from '../helper/common/protocol';
import { field, printable } from '../helper/common/format';
import { HELD_FOR_OLD_LINK, HOLD_MS, SessionClient } from '../helper/common/session';
import type { Connection } from './connection';

/** A sentence of ours for the terminal: what it quotes (names nsxd read) cannot act on the terminal. */
const said = (text: string) => printable(text).replace(/\n/g, '\r\n');

/** Output kept per terminal for "what did it print" (tests, Reveal): the tail only. */
const KEEP_OUTPUT = 64 * 1024;
/** Where the open sessions are remembered, in the workspace's state. */
const REMEMBERED = 'nsx.sessions';

/** A session to give back as a terminal after a reload: what it was opened as. */
export interface Remembered {
  label: string;
  session: TerminalOpenResult;
}

export class NsTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private readonly decoder = new StringDecoder('utf8');
  private readonly client = new SessionClient();
  /** VS Code has closed the terminal (pty.close()). */
  closedByVsCode = false;
  private dims: vscode.TerminalDimensions | undefined;
  output = '';
  exitCode: number | undefined;
  terminal: vscode.Terminal | undefined;

  /** PARAMS to open a session; or, after a reload, the session to take up again. */
  constructor(
    private readonly sessions: TerminalSessions,
    private readonly params: TerminalOpenParams | Remembered,
    readonly label: string,
  ) {}

  open(dims: vscode.TerminalDimensions | undefined): void {
    this.dims = dims;
    void this.start(dims);
  }

  /** The session, once opened (or remembered). */
  get session(): TerminalOpenResult | undefined {
    return this.client.opened;
  }

  /** nsxd went; the shell waits in its supervisor for us to attach again. */
  get detached(): boolean {
    return this.client.held;
  }

  /** Exited, closed, or gone: nothing more is sent for it. */
  private get ended(): boolean {
    return this.client.over;
  }

  private async start(dims: vscode.TerminalDimensions | undefined): Promise<void> {
    if ('session' in this.params) return this.resume(this.params.session);
    try {
      const conn = this.sessions.connection.require();
      const env: Record<string, string> = { TERM: 'xterm-256color', COLORTERM: 'truecolor' };
      for (const k of ['LANG', ...Object.keys(process.env).filter((n) => n.startsWith('LC_'))])
        if (process.env[k]) env[k] = process.env[k]!;
      const session = await this.client.open(conn, {
        ...this.params,
        env,
        persistent: true,
        pty: { cols: dims?.columns ?? 80, rows: dims?.rows ?? 24 },
      });
      this.sessions.register(this);
      this.write(`\x1b[2m[${said(this.label)} — as ${said(session.user)}]\x1b[0m\r\n`);
    } catch (err) {
      this.write(`\x1b[31mCould not open the terminal: ${said((err as Error).message)}\x1b[0m\r\n`);
      this.finish(1);
    }
  }

  /** Bytes from nsxd: shown, remembered, then acknowledged once the event loop has turned. */
  receive(data: string): void {
    this.client.output(data, (bytes) => {
      this.write(this.decoder.write(bytes));
      return new Promise((resolve) => setImmediate(resolve));
    });
  }

  private write(text: string): void {
    if (!text) return;
    this.output = (this.output + text).slice(-KEEP_OUTPUT);
    this.writeEmitter.fire(text);
  }

  exited(code: number): void {
    this.write(this.decoder.end());
    this.write(`\r\n\x1b[2m[${code === 0 ? 'exited' : `exited with code ${code}`}; press any key to close]\x1b[0m\r\n`);
    this.client.over = true;
    this.exitCode = code;
    void this.sessions.remember();
  }

  connectionLost(): void {
    if (this.ended || !this.session) return;
    this.client.held = true;
    this.write(
      '\r\n\x1b[2m[nsxd went away; the shell goes on, and this terminal attaches to it again when nsxd is back]\x1b[0m\r\n',
    );
  }

  /** A session from before a reload: taken up again now if nsxd is there, else as soon as it is. */
  private resume(session: TerminalOpenResult): void {
    this.client.opened = session;
    this.client.held = true;
    this.sessions.register(this);
    this.write(`\x1b[2m[${said(this.label)} — as ${said(session.user)}, taken up again]\x1b[0m\r\n`);
    if (this.sessions.connection.connected) void this.reattach(this.sessions.connection.require());
  }

  /** nsxd is back: take the session up again (its output meanwhile follows as terminal/output). */
  async reattach(client: LanguageClient): Promise<void> {
    if (!this.detached || !this.session) return;
    try {
      await this.attachWhenFree(client, this.session);
      this.client.held = false;
      this.write('\x1b[2m[attached again]\x1b[0m\r\n');
      if (this.dims) this.setDimensions(this.dims);
      void this.client.flush();
    } catch (err) {
      this.client.held = false;
      this.client.over = true;
      this.exitCode = 255;
      this.write(`\x1b[31m[this shell is gone: ${said((err as Error).message)}]\x1b[0m\r\n`);
      this.sessions.unregister(this);
    }
  }

  /** terminal/attach; over a bridge, again while the host still holds the session for the link that dropped. */
  private async attachWhenFree(client: LanguageClient, session: TerminalOpenResult): Promise<void> {
    const since = Date.now();
    for (;;) {
      try {
        await this.client.attach(client, { session: session.session, pid: session.pid });
        return;
      } catch (err) {
        const held = HELD_FOR_OLD_LINK.includes((err as { code?: number }).code!);
        const connection = this.sessions.connection;
        if (!connection.remote || !held || Date.now() - since > HOLD_MS || !connection.connected) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  handleInput(data: string): void {
    if (this.ended) {
      this.finish(this.exitCode ?? 0);
      return;
    }
    // Typed while nsxd is away: dropped, not typed blind into the shell later.
    if (this.detached) return;
    this.client.input(data);
  }

  setDimensions(dims: vscode.TerminalDimensions): void {
    this.dims = dims;
    this.client.resize(dims.columns, dims.rows);
  }

  /**
   * VS Code closed the terminal. Whether the session goes too is decided when
   * VS Code says why (TerminalSessions): a window that goes leaves it waiting.
   */
  close(): void {
    this.closedByVsCode = true;
  }

  /** The user (or an extension) closed the terminal: the session's whole process tree goes with it. */
  end(): void {
    // A terminal closed while nsxd is away: its shell ends with the orphan timeout, as nobody comes back for it.
    this.client.close();
    this.client.over = true;
    this.sessions.unregister(this);
  }

  private finish(code: number): void {
    this.client.over = true;
    this.sessions.unregister(this);
    this.closeEmitter.fire(code);
  }

  get namespaces(): NsKey[] {
    return this.session?.namespaces ?? [];
  }
}

/** Routes session notifications to their terminals, across reconnects, and remembers them across reloads. */
export class TerminalSessions implements vscode.Disposable {
  private readonly bySession = new Map<number, NsTerminal>();
  readonly all = new Set<NsTerminal>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly connection: Connection,
    private readonly state: vscode.Memento,
    /** Where its sessions are remembered: another host's have a key of their own. */
    private readonly key = REMEMBERED,
  ) {
    this.disposables.push(
      connection.onDidConnect((client) => {
        client.onNotification(TerminalOutput, (p) => this.bySession.get(p.session)?.receive(p.data));
        client.onNotification(TerminalExit, (p) => this.bySession.get(p.session)?.exited(p.code));
        for (const t of this.all) void t.reattach(client);
      }),
      // The terminals stay routed by session id: the same ids come back with the next nsxd.
      connection.onDidDisconnect(() => {
        for (const t of this.all) t.connectionLost();
      }),
      vscode.window.onDidCloseTerminal((terminal) => {
        const t = this.forTerminal(terminal);
        // A window that closes or reloads takes its terminals with it, not their sessions: the next one gives them back.
        if (t && terminal.exitStatus?.reason !== vscode.TerminalExitReason.Shutdown) t.end();
      }),
    );
  }

  /** Gives back, as terminals of the same names, the sessions this workspace had open before its window went. */
  restore(): void {
    const remembered = this.state.get<Remembered[]>(this.key, []);
    for (const r of remembered)
      if (![...this.all].some((t) => t.session?.session === r.session.session)) this.create(r, r.label, false);
  }

  /** Opens an integrated terminal for a session; resolves once it has started (or failed). */
  open(params: TerminalOpenParams, label: string): NsTerminal {
    return this.create(params, label, true);
  }

  private create(params: TerminalOpenParams | Remembered, label: string, show: boolean): NsTerminal {
    const pty = new NsTerminal(this, params, label);
    this.all.add(pty);
    // A label may hold a process's own name (comm): shown as text, its control characters as escapes.
    // Another host's terminal says whose it is (a name nsx.hosts allows: letters, digits, . _ -).
    const host = this.connection.remote ? `${this.connection.remote.name}: ` : '';
    pty.terminal = vscode.window.createTerminal({
      name: `nsx: ${host}${field(label)}`,
      pty,
      iconPath: new vscode.ThemeIcon('terminal-linux'),
    });
    if (show) pty.terminal.show();
    return pty;
  }

  register(t: NsTerminal): void {
    if (t.session) this.bySession.set(t.session.session, t);
    void this.remember();
  }

  unregister(t: NsTerminal): void {
    if (t.session) this.bySession.delete(t.session.session);
    this.all.delete(t);
    void this.remember();
  }

  forTerminal(terminal: vscode.Terminal | undefined): NsTerminal | undefined {
    return [...this.all].find((t) => t.terminal === terminal);
  }

  /** Writes down the sessions open now (one exited or closed is no more). */
  remember(): Thenable<void> {
    const open = [...this.all]
      .filter((t) => t.session && t.exitCode === undefined)
      .map((t): Remembered => ({ label: t.label, session: t.session! }));
    return this.state.update(this.key, open);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

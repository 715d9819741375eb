// The extension's link to nsxd: a vscode-languageclient over the Unix
// socket (it brings tracing and an output channel), a status bar item, the
// `nsx.state` context the welcome views read, and reconnection with backoff.
import { FSWatcher, watch } from 'node:fs';
import { createConnection } from 'node:net';
import { basename, dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  MessageTransports,
  State,
  StreamMessageReader,
} from 'vscode-languageclient/node';
import { SocketMessageWriter } from '../helper/common/rpcWriter';
import { openSocket } from '../helper/common/client';
import { DEFAULT_SOCKET, explainConnectError } from '../helper/common/deployment';
import {
  ErrorCodes,
  Identity,
  InitializeResult,
  NsType,
  NSTYPES,
  PROTOCOL_VERSION,
  protocolMismatch,
} from '../helper/common/protocol';
import { setContextKey } from './menus';

/** A stream to an nsxd elsewhere (a bridge over ssh or kubectl exec), as a host of nsx.hosts gives it. */
export interface Transport {
  stream: Duplex;
  /** Why it failed or ended, in the transport's own words (escaped), once it has exited. */
  why(): Promise<string>;
  /** What it has said so far, escaped; '' if nothing. */
  said(): string;
  kill(): void;
  /** Settles when the transport has exited. */
  exited: Promise<unknown>;
}

/** Another host's link: its name, and a factory of streams to its nsxd (helper/common/bridge.ts). */
export interface RemoteLink {
  name: string;
  open(): Promise<Transport>;
}

export type ConnectionState = 'connecting' | 'connected' | 'notRunning' | 'denied';

const MAX_BACKOFF_MS = 30_000;
/** Another host is tried again sooner: a link that came back should answer within seconds. */
const MAX_REMOTE_BACKOFF_MS = 5_000;
/** How long another host may take to answer the handshake before its transport is killed. */
const REMOTE_START_MS = 30_000;

export class Connection implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private state: ConnectionState = 'connecting';
  private why = '';
  private backoff = 1000;
  private retryTimer: NodeJS.Timeout | undefined;
  private socketWatcher: FSWatcher | undefined;
  private watchedPath = '';
  /** The socket of the current (or latest) attempt: the setting may have changed since. */
  private path = '';
  private disposed = false;
  /** The connection attempt under way, which every connect() meanwhile shares. */
  private attempt: Promise<void> | undefined;
  private readonly status = vscode.window.createStatusBarItem('nsx.connection', vscode.StatusBarAlignment.Left, 10);
  private readonly onDidConnectEmitter = new vscode.EventEmitter<LanguageClient>();
  private readonly onDidDisconnectEmitter = new vscode.EventEmitter<void>();
  private readonly onDidChangeStateEmitter = new vscode.EventEmitter<{ state: ConnectionState; reason: string }>();
  /** Every change of state, with the reason a connection failed. */
  readonly onDidChangeState = this.onDidChangeStateEmitter.event;
  /** Fires with a started client each time the connection is (re)established. */
  readonly onDidConnect = this.onDidConnectEmitter.event;
  readonly onDidDisconnect = this.onDidDisconnectEmitter.event;
  identity: Identity | undefined;
  /** What nsxd said of its host at the handshake: hostname and kernel (another host's words: text only). */
  server: InitializeResult | undefined;
  private transport: Transport | undefined;
  /** Why the last attempt failed, kept while the next one is under way; '' once connected. */
  lastFailure = '';

  /** OUTPUT is the connection log; INSTALLER, this extension's install.sh, named when nsxd is not running. */
  constructor(
    readonly output: vscode.OutputChannel,
    private readonly installer?: string,
    /** Another host's: a stream from its factory instead of the local socket; no status bar item, no welcome view state. */
    readonly remote?: RemoteLink,
  ) {
    this.status.name = 'nsxd connection';
    this.status.command = 'nsx.showOutput';
    this.setState('connecting', '');
    if (!remote) this.status.show();
  }

  get socketPath(): string {
    return (
      vscode.workspace.getConfiguration('nsx').get<string>('socketPath') || process.env.NSX_SOCKET || DEFAULT_SOCKET
    );
  }

  /** The started client, or a clear error that says why there is none. */
  require(): LanguageClient {
    if (this.client && this.state === 'connected') return this.client;
    const which = this.remote ? `${this.remote.name}'s nsxd` : 'nsxd';
    throw new Error(this.state === 'denied' ? this.why : `Not connected to ${which}. ${this.why}`);
  }

  /** Why the last attempt failed, in words for the user. */
  get reason(): string {
    return this.why;
  }

  /** The namespace types nsxd's kernel has; all eight until it has said. */
  get nstypes(): NsType[] {
    return this.identity?.nstypes ?? [...NSTYPES];
  }

  get currentState(): ConnectionState {
    return this.state;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** The socket of the nsxd this is connected to, if it is. */
  get connectedTo(): string | undefined {
    return this.state === 'connected' ? this.path : undefined;
  }

  /**
   * Another stream to the nsxd this speaks to, not yet spoken on (a capture's
   * bytes come on one): a second connection to this host's socket, or another
   * bridge run to another host's (over ssh's shared connection).
   */
  async open(): Promise<Duplex> {
    if (!this.remote) return openSocket(this.connectedTo ?? this.socketPath);
    const t = await this.remote.open();
    // The bridge ends with its stream: nothing of it outlives the capture.
    t.stream.once('close', () => t.kill());
    return t.stream;
  }

  /** Reconnects as soon as the socket is made again (nsxd restarted), whatever the backoff says. */
  private watchForSocket(): void {
    const path = this.socketPath;
    // One watcher until connected: a new one would miss what happened while it was made (nsxd removes a stale socket, then listens).
    if (this.socketWatcher && this.watchedPath === path) return;
    this.socketWatcher?.close();
    this.socketWatcher = undefined;
    this.watchedPath = path;
    try {
      this.socketWatcher = watch(dirname(path), (_event, name) => {
        if (name !== basename(path) || this.state === 'connected') return;
        if (this.retryTimer) clearTimeout(this.retryTimer);
        // nsxd creates the socket, then chmods and chowns it: try once it is done.
        this.retryTimer = setTimeout(() => void this.connect(), 50);
      });
      this.socketWatcher.on('error', () => undefined);
    } catch {
      // no such directory (yet): the backoff retries
    }
  }

  /**
   * Connects, unless already connected to the socket the settings name (the
   * Start button, Retry and the socket watcher may all ask at once after nsxd
   * comes back): every caller meanwhile shares the one attempt, so no
   * connection is dropped for another and no session attached twice. FORCE
   * connects again all the same (the socket setting changed), after the
   * attempt under way, which was for the socket before.
   */
  connect(force = false): Promise<void> {
    if (!force && this.state === 'connected' && (this.remote || this.path === this.socketPath))
      return Promise.resolve();
    if (this.attempt && !force) return this.attempt;
    const attempt: Promise<void> = (this.attempt ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.tryConnect())
      .finally(() => {
        if (this.attempt === attempt) this.attempt = undefined;
      });
    this.attempt = attempt;
    return attempt;
  }

  private async tryConnect(): Promise<void> {
    if (this.disposed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Not "connected" while the old client stops: nothing may be sent through it any more.
    this.setState('connecting', '');
    await this.stopClient();
    const path = (this.path = this.remote ? this.remote.name : this.socketPath);
    // Connected before the client exists: "not running" and "denied" are the welcome view's words, not a popup.
    let socket: Duplex;
    try {
      socket = await this.openStream(path);
    } catch (err) {
      this.failed(err as Error & { code?: string });
      return;
    }
    const client = this.newClient(socket);
    this.client = client;
    const transport = this.transport;
    const timer = transport && setTimeout(() => transport.kill(), REMOTE_START_MS);
    try {
      // A transport that exits before the handshake leaves the client's start unsettled for ever: it is the failure.
      const gone = transport?.exited.then(() => Promise.reject(new Error('the transport exited')));
      await Promise.race([client.start(), ...(gone ? [gone] : [])]);
    } catch (err) {
      if (this.client !== client) return;
      this.client = undefined;
      void client.dispose().catch(() => undefined);
      // Another host's failure is said in its transport's words (ssh's: host key, auth, nsx not installed there).
      this.failed(transport ? new Error(await transport.why()) : (err as Error & { code?: string | number }));
      return;
    } finally {
      clearTimeout(timer);
    }
    if (this.client === client) this.started(client, transport, path);
  }

  private started(client: LanguageClient, transport: Transport | undefined, path: string): void {
    const result = client.initializeResult as unknown as InitializeResult | undefined;
    const mismatch = result ? protocolMismatch(result) : 'nsxd did not answer the handshake';
    if (mismatch || !result) {
      this.client = undefined;
      void client.dispose().catch(() => undefined);
      this.failed(new Error(`${mismatch} (at ${path})`));
      return;
    }
    this.identity = result.identity;
    this.server = result;
    this.backoff = 1000;
    this.socketWatcher?.close();
    this.socketWatcher = undefined;
    this.output.appendLine(
      `connected to nsxd ${result.serverInfo.version} at ${path} as ${result.identity.user} (${result.identity.role}${result.identity.rootShells ? ', root shells' : ''})`,
    );
    this.lastFailure = '';
    this.setState('connected', '');
    this.follow(client, transport);
  }

  /** The client stopped (nsxd went, or another host's link dropped): said, and tried again with backoff. */
  private follow(client: LanguageClient, transport: Transport | undefined): void {
    client.onDidChangeState((e) => {
      if (e.newState === State.Stopped && this.client === client) {
        this.client = undefined;
        this.identity = undefined;
        this.onDidDisconnectEmitter.fire();
        const said = transport?.said();
        const lost = `the connection to nsxd was lost${said ? ` (${said})` : ''}`;
        this.failed(Object.assign(new Error(lost), { code: 'ECONNRESET' }));
      }
    });
    this.onDidConnectEmitter.fire(client);
  }

  /** The socket connected (or another host's transport started), or an error whose message says what to do. */
  private async openStream(path: string): Promise<Duplex> {
    if (this.remote) {
      this.transport?.kill();
      this.transport = await this.remote.open();
      return this.transport.stream;
    }
    return new Promise<Duplex>((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) =>
        reject(Object.assign(new Error(explainConnectError(err, path, this.installer)), { code: err.code })),
      );
    });
  }

  /** A language client over a connected socket, which neither restarts nor pops up errors: the welcome view speaks. */
  private newClient(socket: Duplex): LanguageClient {
    const serverOptions = (): Promise<MessageTransports> =>
      Promise.resolve({ reader: new StreamMessageReader(socket), writer: new SocketMessageWriter(socket) });
    return new LanguageClient('nsx', 'Namespace Explorer', serverOptions, {
      documentSelector: [],
      outputChannel: this.output,
      initializationOptions: { protocolVersion: PROTOCOL_VERSION },
      initializationFailedHandler: () => false,
      errorHandler: {
        error: () => ({ action: ErrorAction.Shutdown, handled: true }),
        // Reconnection is ours (with backoff and a welcome view), not the client's restart loop.
        closed: () => ({ action: CloseAction.DoNotRestart, handled: true }),
      },
    });
  }

  private failed(err: Error & { code?: string | number }): void {
    const denied =
      err.code === 'EACCES' ||
      err.code === ErrorCodes.AccessDenied ||
      /access denied|permission denied/i.test(err.message);
    this.output.appendLine(`nsxd: ${err.message}`);
    this.lastFailure = err.message;
    this.setState(denied ? 'denied' : 'notRunning', err.message);
    // A refusal will not change by itself soon; a daemon that is not running may start any moment,
    // and when it does its socket appears: that is the cue, the backoff only a fallback.
    const max = this.remote ? MAX_REMOTE_BACKOFF_MS : MAX_BACKOFF_MS;
    const delay = denied ? max : this.backoff;
    this.backoff = Math.min(this.backoff * 2, max);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    if (!denied && !this.remote) this.watchForSocket();
  }

  private setState(state: ConnectionState, reason: string): void {
    this.state = state;
    this.why = reason;
    this.onDidChangeStateEmitter.fire({ state, reason });
    if (this.remote) return;
    setContextKey('nsx.state', state);
    const text: Record<ConnectionState, string> = {
      connecting: '$(sync~spin) nsxd',
      connected: '$(plug) nsxd',
      notRunning: '$(debug-disconnect) nsxd not running',
      denied: '$(lock) nsxd refused',
    };
    this.status.text = text[state];
    this.status.tooltip =
      state === 'connected'
        ? `Connected to nsxd at ${this.path} as ${this.identity?.user ?? '?'}`
        : reason || 'Connecting to nsxd…';
    this.status.backgroundColor =
      state === 'notRunning' || state === 'denied'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      this.onDidDisconnectEmitter.fire();
      await client.stop(2000).catch(() => undefined);
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socketWatcher?.close();
    await this.stopClient();
    this.transport?.kill();
    this.status.dispose();
    this.onDidConnectEmitter.dispose();
    this.onDidDisconnectEmitter.dispose();
    this.onDidChangeStateEmitter.dispose();
  }
}

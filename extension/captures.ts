// One host's captures: each one's stream read from its own connection to
// that host's nsxd, nsxd's capture/end routed to it (one CaptureStreams per
// connection), a status bar item while any runs (click: stop them), and
// every capture ended when nsxd goes.
import type { Writable } from 'node:stream';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { CaptureEnd, CaptureEndParams, CaptureStartParams, interfaceLabel } from '../helper/common/capture';
import { CaptureHandle, CaptureStreams } from '../helper/common/captureClient';
import type { Connection } from './connection';

export const STOP_CAPTURES = 'nsx.stopCaptures';

export interface RunningCapture {
  handle: CaptureHandle;
  /** eth0@web, eth0@db */
  label: string;
}

export class Captures implements vscode.Disposable {
  private streams: CaptureStreams | undefined;
  private client: LanguageClient | undefined;
  private readonly running = new Set<RunningCapture>();
  private readonly status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 10);
  private readonly disposables: vscode.Disposable[] = [this.status];

  /** HOST: another host's name, said after each capture's interfaces; none for this one. */
  constructor(
    private readonly connection: Connection,
    private readonly host?: string,
  ) {
    this.status.command = STOP_CAPTURES;
    this.disposables.push(
      connection.onDidDisconnect(() => {
        this.streams?.lost('the connection to nsxd was lost');
        this.streams = undefined;
        this.client = undefined;
      }),
    );
  }

  /** This connection's router, made (and its notifications routed to it) the first time. */
  private router(): CaptureStreams {
    const client = this.connection.require();
    if (this.client !== client || !this.streams) {
      // The stream connections go to the nsxd this client speaks to: this host's socket, or another bridge run there.
      const streams = new CaptureStreams(client, () => this.connection.open());
      client.onNotification(CaptureEnd, (p) => streams.end(p));
      this.client = client;
      this.streams = streams;
    }
    return this.streams;
  }

  /** Starts a capture whose stream goes to OUT (left open); resolves once it runs, with its end to come. */
  async start(
    params: CaptureStartParams,
    out: Writable,
  ): Promise<{ capture: RunningCapture; ended: Promise<CaptureEndParams> }> {
    const handle = await this.router().start(params, out);
    const on = this.host ? ` on ${this.host}` : '';
    const capture: RunningCapture = {
      handle,
      label: `${handle.result.interfaces.map(interfaceLabel).join(', ')}${on}`,
    };
    this.running.add(capture);
    const timer = setInterval(() => this.show(), 1000);
    this.show();
    const ended = handle.ended.finally(() => {
      clearInterval(timer);
      this.running.delete(capture);
      this.show();
    });
    return { capture, ended };
  }

  stopAll(): void {
    for (const c of this.running) c.handle.stop();
  }

  private show(): void {
    if (this.running.size === 0) return this.status.hide();
    const bytes = [...this.running].reduce((n, c) => n + c.handle.bytes, 0);
    const first = [...this.running][0];
    this.status.text = `$(record) ${this.running.size === 1 ? first.label : `${this.running.size} captures`} · ${kib(bytes)}`;
    this.status.tooltip = `Capturing on ${[...this.running].map((c) => c.label).join('; ')}. Click to stop.`;
    this.status.show();
  }

  dispose(): void {
    this.stopAll();
    for (const d of this.disposables) d.dispose();
  }
}

function kib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

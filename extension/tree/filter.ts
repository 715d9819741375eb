// The filter both views apply: by namespace type, and by text over a
// process's comm, cmdline and pid and a namespace's container and pins.
import * as vscode from 'vscode';
import type { Container, Namespace, NsType, Process } from '../../helper/common/protocol';
import { netnsNames } from '../../helper/common/words';
import { setContextKey } from '../menus';

export class Filter implements vscode.Disposable {
  private types: NsType[] | undefined;
  private text = '';
  private readonly onDidChangeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.onDidChangeEmitter.event;

  get active(): boolean {
    return this.types !== undefined || this.text !== '';
  }

  get summary(): string {
    return [this.types ? this.types.join(',') : '', this.text ? `"${this.text}"` : ''].filter(Boolean).join(' ');
  }

  set(types: NsType[] | undefined, text: string): void {
    this.types = types && types.length ? types : undefined;
    this.text = text.trim().toLowerCase();
    setContextKey('nsx.filtered', this.active);
    this.onDidChangeEmitter.fire();
  }

  clear(): void {
    this.set(undefined, '');
  }

  typeShown(type: NsType): boolean {
    return !this.types || this.types.includes(type);
  }

  /** A process by its pid, name, arguments, or the container it is in. */
  processMatches(p: Process, container?: string): boolean {
    if (!this.text) return true;
    return (
      String(p.pid) === this.text ||
      p.comm.toLowerCase().includes(this.text) ||
      p.cmdline.join(' ').toLowerCase().includes(this.text) ||
      (container !== undefined && container.toLowerCase().includes(this.text))
    );
  }

  /** A container by what people call it: name, image, pod, compose project or service, hostname, id. */
  containerMatches(c: Container): boolean {
    if (!this.text) return true;
    return [c.name, c.image, c.pod, c.project, c.service, c.hostname, c.id].some((v) =>
      v?.toLowerCase().includes(this.text),
    );
  }

  get hasText(): boolean {
    return this.text !== '';
  }

  namespaceMatches(ns: Namespace, processOf: (pid: number) => Process | undefined): boolean {
    if (!this.typeShown(ns.type)) return false;
    if (!this.text) return true;
    const c = ns.container;
    if (c && `${c.runtime} ${c.id} ${c.name ?? ''}`.toLowerCase().includes(this.text)) return true;
    if (
      ns.pins.some((p) => p.name.includes(this.text)) ||
      netnsNames(ns).some((n) => n.includes(this.text)) ||
      String(ns.inode).includes(this.text)
    )
      return true;
    return ns.pids.some((pid) => {
      const p = processOf(pid);
      return p !== undefined && this.processMatches(p);
    });
  }

  dispose(): void {
    this.onDidChangeEmitter.dispose();
  }
}

// What the Network view's page and the extension say to each other.
import type { Graph } from '../graph';

/** extension → page */
export type ToView =
  { type: 'graph'; graph: Graph } | { type: 'status'; text: string } | { type: 'focus'; inode: number };

/** What the page's switches say to draw. */
export interface ViewOptions {
  showLoopback: boolean;
  showIsolated: boolean;
}

/** page → extension */
export type FromView =
  { type: 'ready' } | { type: 'select'; inode: number; link?: string } | { type: 'options'; options: ViewOptions };

/** What a right-click on the picture hands VS Code's context menu (webview/context), and so its commands. */
export interface ViewContext {
  webviewSection: 'namespace' | 'link' | 'wire' | 'background';
  inode?: number;
  link?: string;
  /** A wire's two ends: each a namespace and its interface. */
  ends?: { inode: number; link: string }[];
}

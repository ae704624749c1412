/** What the sidebar is bound to, and when two bindings show the same thing. */

import type { KimiClient } from './client';

/**
 * What the panel is bound to: a notebook, its chat name and its kernel's client. The plugin
 * binds the notebook's own chat; the panel shows the chat the user picked for that notebook
 * instead, if any (Chats, New chat), and `binding` says which.
 */
export interface Binding {
  notebook: string;
  chat: string;
  client: KimiClient | null;
  /** The notebook's path: keys the chat choice and places exports (default: `notebook`). */
  path?: string;
  /** Shown when there is no client (no kernel yet, …). */
  note?: string;
}

/** What the chat picked for a notebook is remembered under. */
export function choiceKey(binding: Binding): string {
  return binding.path ?? binding.notebook;
}

/** The same notebook, chat and kernel (the plugin rebinds with new objects on kernel events). */
export function sameView(a: Binding | null, b: Binding): boolean {
  return !!a && choiceKey(a) === choiceKey(b) && a.chat === b.chat && a.client === b.client;
}

/**
 * The sidebar's chat list and what goes with it: the Chats menu and how it describes a chat,
 * names for a new chat and the file name of an exported chat. Pure but for the menu's DOM.
 */

import { formatCost, formatCount, h, plural, setText } from './dom';
import type { TranscriptChat } from './protocol';

// ---------------------------------------------------------------------------------------
// Pure helpers.

/** "just now", "5 min ago", "2 h ago", "3 d ago", else the date; '' when unknown (0). */
export function relativeTime(epochSeconds: number, nowMs: number = Date.now()): string {
  if (!Number.isFinite(epochSeconds) || epochSeconds <= 0) {
    return '';
  }
  const seconds = Math.max(0, nowMs / 1000 - epochSeconds);
  if (seconds < 60) {
    return 'just now';
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours} h ago`;
  }
  const days = Math.floor(hours / 24);
  if (days < 30) {
    return `${days} d ago`;
  }
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10);
}

/** `<base> (2)`, `(3)`, …: the first that is not `taken`. */
export function freshChatName(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  for (let n = 2; ; n++) {
    const name = `${base} (${n})`;
    if (!used.has(name)) {
      return name;
    }
  }
}

const UNSAFE = /[\\/:*?"<>|\u0000-\u001f]+/g;

/** What an export's file name ends with: `03-sidebar.kimi-chat.md` sorts next to `03-sidebar.ipynb`. */
export const EXPORT_SUFFIX = '.kimi-chat';

/**
 * Where to export `chat`: `<chat's last name part>.kimi-chat.md` in the notebook's folder (for
 * the notebook's own chat that is the notebook's stem: `03-sidebar.kimi-chat.md`), with `-2`,
 * `-3`, … added only when the name is taken: an export never overwrites a file.
 */
export async function exportPath(
  notebookPath: string,
  chat: string,
  exists: (path: string) => Promise<boolean>
): Promise<string> {
  const normalized = notebookPath.replace(/\\/g, '/').replace(/^\/+/, '');
  const slash = normalized.lastIndexOf('/');
  const dir = slash >= 0 ? normalized.slice(0, slash + 1) : '';
  const last = chat.replace(/\\/g, '/').split('/').filter(Boolean).pop() ?? '';
  const stem = last.replace(UNSAFE, ' ').trim() || 'chat';
  for (let n = 1; n < 10_000; n++) {
    const path = `${dir}${stem}${EXPORT_SUFFIX}${n > 1 ? `-${n}` : ''}.md`;
    if (!(await exists(path))) {
      return path;
    }
  }
  throw new Error(`no free file name for ${stem}${EXPORT_SUFFIX}.md`);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The muted line under a chat's name in the menu: turns, last activity, cost, running. */
export function describeChat(chat: TranscriptChat, nowMs: number = Date.now()): string {
  const parts = [chat.turns > 0 ? plural(chat.turns, 'turn') : 'no turns yet'];
  const when = relativeTime(chat.last_activity, nowMs);
  if (when) {
    parts.push(when);
  }
  const cost = formatCost(chat.cost);
  if (cost) {
    parts.push(cost);
  }
  if (chat.busy) {
    parts.push('answering');
  }
  return parts.join(' · ');
}

/** An entry for a chat the list does not have (a new chat, or the notebook's own, still empty). */
export function emptyChat(name: string): TranscriptChat {
  return { name, turns: 0, last_activity: 0, tokens: 0, cost: null, loaded: true, busy: false };
}

// ---------------------------------------------------------------------------------------
// The Chats menu: a popup list under the sidebar's header.

export interface ChatsMenuContent {
  chats: TranscriptChat[];
  current: string;
  /** A muted line under the list (transcripts off, …). */
  note?: string;
}

export class ChatsMenu {
  constructor(onPick: (chat: TranscriptChat) => void, onClose: () => void) {
    this._onPick = onPick;
    this._onClose = onClose;
    this.node.hidden = true;
    this.node.addEventListener('keydown', event => this._onKey(event));
  }

  readonly node = h('div', { className: 'kimi-chats-menu', attrs: { role: 'menu', 'aria-label': 'Chats' } });

  get isOpen(): boolean {
    return !this.node.hidden;
  }

  /** Open showing "Loading…" until `show` or `fail`. */
  open(): void {
    this.node.hidden = false;
    this._message('Loading the chats…', false);
    document.addEventListener('mousedown', this._outside, true);
  }

  close(): void {
    if (!this.isOpen) {
      return;
    }
    this.node.hidden = true;
    this.node.replaceChildren();
    document.removeEventListener('mousedown', this._outside, true);
    this._onClose();
  }

  show(content: ChatsMenuContent, nowMs: number = Date.now()): void {
    if (!this.isOpen) {
      return;
    }
    const items = content.chats.map(chat => {
      const current = chat.name === content.current;
      const item = h(
        'button',
        {
          className: `kimi-chats-item${current ? ' kimi-mod-current' : ''}`,
          attrs: {
            type: 'button',
            role: 'menuitemradio',
            'aria-checked': String(current),
            title: `${chat.name}${chat.tokens ? ` · ${formatCount(chat.tokens)} tokens` : ''}${
              chat.loaded ? '' : ' · reopens from the transcripts file'
            }`
          }
        },
        h('span', { className: 'kimi-chats-mark', text: current ? '✓' : '', attrs: { 'aria-hidden': 'true' } }),
        h(
          'span',
          { className: 'kimi-chats-text' },
          h('span', { className: 'kimi-chats-name', text: chat.name }),
          h('span', { className: 'kimi-chats-meta', text: describeChat(chat, nowMs) + (current ? ' · current' : '') })
        )
      );
      item.dataset.chat = chat.name;
      item.addEventListener('click', () => {
        this.close();
        this._onPick(chat);
      });
      return item;
    });
    this.node.replaceChildren(...items);
    if (items.length === 0) {
      this._message('No chats yet.', false);
    }
    if (content.note) {
      this.node.append(h('div', { className: 'kimi-chats-note', text: content.note }));
    }
    (items.find(i => i.classList.contains('kimi-mod-current')) ?? items[0])?.focus();
  }

  fail(message: string): void {
    if (this.isOpen) {
      this._message(message, true);
    }
  }

  dispose(): void {
    document.removeEventListener('mousedown', this._outside, true);
  }

  private _message(text: string, error: boolean): void {
    const line = h('div', { className: `kimi-chats-note${error ? ' kimi-mod-error' : ''}` });
    setText(line, text);
    this.node.replaceChildren(line);
  }

  private _onKey(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.close();
      return;
    }
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') {
      return;
    }
    event.preventDefault();
    const items = [...this.node.querySelectorAll<HTMLButtonElement>('.kimi-chats-item')];
    if (items.length === 0) {
      return;
    }
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    const next = event.key === 'ArrowDown' ? (at + 1) % items.length : (at - 1 + items.length) % items.length;
    items[next].focus();
  }

  private readonly _outside = (event: MouseEvent): void => {
    const target = event.target as Node | null;
    if (target && (this.node.contains(target) || this._keepOpenFor?.contains(target))) {
      return;
    }
    this.close();
  };

  /** An element whose clicks do not count as outside (the Chats button toggles by itself). */
  keepOpenFor(el: HTMLElement): void {
    this._keepOpenFor = el;
  }

  private _keepOpenFor: HTMLElement | null = null;
  private readonly _onPick: (chat: TranscriptChat) => void;
  private readonly _onClose: () => void;
}

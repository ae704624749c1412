/**
 * The header's chat actions: Chats (the menu of this notebook's chats and others), New chat
 * and Export, with the notice line that says what they did. Files and icons are injected
 * (PanelOptions), so all of it runs under vitest with fakes.
 */

import { sameView, type Binding } from './binding';
import { ChatsMenu, baseName, emptyChat, exportPath, freshChatName } from './chats';
import type { ChatStore } from './chatstore';
import type { KimiClient } from './client';
import { errorText, h, setText } from './dom';
import type { DoctorReply, ExportReply, TranscriptChat, TranscriptsReply } from './protocol';

/** Files next to the notebook (the Jupyter contents service and docmanager:open in JupyterLab). */
export interface ChatFiles {
  exists(path: string): Promise<boolean>;
  /** Write a new text file. */
  save(path: string, content: string): Promise<void>;
  /** Open it in JupyterLab. */
  open(path: string): Promise<void>;
}

/** The part of a LabIcon the panel uses (icons are passed in: vitest cannot load ui-components). */
export interface IconLike {
  element(props?: { tag?: 'div' | 'span'; className?: string }): HTMLElement;
}

export interface ToolbarIcons {
  chats?: IconLike;
  newChat?: IconLike;
  export?: IconLike;
  caret?: IconLike;
}

/** What the actions need of the panel. */
export interface ChatActionsHost {
  /** The binding of the chat on screen. */
  binding(): Binding | null;
  /** The notebook's own chat (the base of a new chat's name). */
  notebookChat(): string | null;
  /** Show `chat` for the bound notebook, remembered; `reopen` reloads it from the transcripts file. */
  showChat(chat: string, options: { reopen?: boolean }): Promise<void>;
  /** Show `chat` and remember the choice, without loading a history (a new chat has none). */
  choose(chat: string): void;
  renderControls(): void;
}

export interface ChatActionsOptions {
  host: ChatActionsHost;
  store: ChatStore;
  /** Saving and opening exports (without it, Export is disabled). */
  files?: ChatFiles;
  icons?: ToolbarIcons;
  /** The clock for "2 h ago" (tests). */
  now?: () => number;
}

const NEW_CHAT_TITLE = 'Start a fresh chat for this notebook (the current one stays in Chats)';

export class ChatActions {
  constructor(options: ChatActionsOptions) {
    this._host = options.host;
    this._store = options.store;
    this._files = options.files ?? null;
    this._now = options.now ?? Date.now;
    const icons = options.icons ?? {};
    this._chatsButton = actionButton('Chats', 'Show and reopen this notebook’s chats and others', icons.chats, icons.caret);
    this._chatsButton.setAttribute('aria-haspopup', 'menu');
    this._chatsButton.setAttribute('aria-expanded', 'false');
    this._newButton = actionButton('New chat', NEW_CHAT_TITLE, icons.newChat);
    this._exportButton = actionButton('Export', 'Save this chat as a Markdown file next to the notebook and open it', icons.export);
    this._menu = new ChatsMenu(
      chat => this._pick(chat),
      () => this._chatsButton.setAttribute('aria-expanded', 'false')
    );
    this._menu.keepOpenFor(this._chatsButton);
    this._chatsButton.addEventListener('click', () => void this._toggleChats());
    this._newButton.addEventListener('click', () => void this.newChat());
    this._exportButton.addEventListener('click', () => void this.exportChat());
    this._checkButton = actionButton('Check setup', 'Is the provider set up? Key, endpoint and model (as %kimi doctor)');
    this._checkButton.addEventListener('click', () => void this.checkSetup());
    this.toolbar = h('div', { className: 'kimi-chat-actions' },
      this._chatsButton, this._newButton, this._exportButton, this._checkButton);
  }

  /** The Chats, New chat and Export buttons. */
  readonly toolbar: HTMLDivElement;

  /** What the last action did, or why it failed. */
  readonly notice = h('div', { className: 'kimi-notice', attrs: { role: 'status', hidden: '' } });

  /** The Chats menu's popup. */
  get menu(): HTMLElement {
    return this._menu.node;
  }

  /** Another chat is on screen: the open menu and the notice were about the previous one. */
  chatSwitched(): void {
    this._menu.close();
    this._setNotice('');
  }

  /**
   * New chat: bind this notebook to `<notebook's chat> (n)`, a name no listed chat has; the
   * previous chat stays in the transcripts (Chats reaches it).
   */
  async newChat(): Promise<void> {
    const binding = this._host.binding();
    const client = binding?.client;
    if (!binding || !client || this._store.running(binding.chat) || this._creating) {
      return;
    }
    this._creating = true;
    this._host.renderControls();
    try {
      let listed: TranscriptChat[];
      try {
        listed = (await this._listChats(client)).chats;
      } catch (error) {
        this._setNotice(`Could not list the chats: ${errorText(error)}`, true);
        return;
      }
      if (!sameView(this._host.binding(), binding)) {
        return; // the user moved on meanwhile
      }
      const taken = new Set(listed.map(c => c.name));
      taken.add(binding.chat);
      for (const name of this._store.chatsWithTurns()) {
        taken.add(name);
      }
      const name = freshChatName(this._host.notebookChat() ?? binding.chat, taken);
      this._host.choose(name);
      this._setNotice(`New chat “${name}”; the previous one is in Chats.`);
    } finally {
      this._creating = false;
      this._host.renderControls();
    }
  }

  /** `%kimi doctor`'s free checks, shown in the notice (a ✗ line carries its fix). */
  async checkSetup(): Promise<void> {
    const client = this._host.binding()?.client;
    if (!client || this._checking) {
      return;
    }
    this._checking = true;
    this._setNotice('Checking the setup…');
    try {
      const reply = await client.request<DoctorReply>({ type: 'doctor' });
      const paid = reply.text.includes('doctor -y') ? '\nThe question and tool round trip cost tokens: run %kimi doctor -y in a cell.' : '';
      this._setNotice(`${reply.text}${paid}`, !reply.ok, true);
    } catch (error) {
      this._setNotice(`Could not check the setup: ${errorText(error)}`, true);
    } finally {
      this._checking = false;
    }
  }

  /** Export: the chat as Markdown, saved as a new file next to the notebook and opened. */
  async exportChat(): Promise<void> {
    const binding = this._host.binding();
    const client = binding?.client;
    const files = this._files;
    if (!binding || !client || !files || this._exporting) {
      return;
    }
    const chat = binding.chat;
    this._exporting = true;
    this._setNotice(`Exporting “${chat}”…`);
    this._host.renderControls();
    let path = '';
    try {
      const reply = await client.request<ExportReply>({ type: 'export', chat });
      if (reply.turns === 0) {
        this._setNotice(`Nothing to export: “${chat}” has no turns yet.`);
        return;
      }
      path = await exportPath(binding.path ?? binding.notebook, chat, p => files.exists(p));
      await files.save(path, reply.markdown);
      const what = `${reply.turns} turn${reply.turns === 1 ? '' : 's'}`;
      this._setNotice(`Exported ${what} to ${baseName(path)}`);
      try {
        await files.open(path);
      } catch (error) {
        this._setNotice(`Exported ${what} to ${baseName(path)}, but could not open it: ${errorText(error)}`, true);
      }
    } catch (error) {
      this._setNotice(`Export failed${path ? ` (${baseName(path)})` : ''}: ${errorText(error)}`, true);
    } finally {
      this._exporting = false;
      this._host.renderControls();
    }
  }

  /** Enable the buttons for what the bound chat allows now. */
  render(): void {
    const binding = this._host.binding();
    const client = binding?.client ?? null;
    const running = !!binding && this._store.running(binding.chat);
    this._chatsButton.disabled = !client;
    this._newButton.disabled = !client || running || this._creating;
    this._newButton.title = running ? 'New chat: wait for the answer to finish (or stop it)' : NEW_CHAT_TITLE;
    this._exportButton.disabled = !client || !this._files || this._exporting;
  }

  dispose(): void {
    this._menu.dispose();
  }

  private async _toggleChats(): Promise<void> {
    if (this._menu.isOpen) {
      this._menu.close();
      return;
    }
    const binding = this._host.binding();
    const client = binding?.client;
    if (!binding || !client) {
      return;
    }
    this._menu.open();
    this._chatsButton.setAttribute('aria-expanded', 'true');
    try {
      const list = await this._listChats(client);
      if (!sameView(this._host.binding(), binding)) {
        return; // another notebook or chat meanwhile (that closed the menu)
      }
      const chats = list.chats.slice();
      // The notebook's own chat and a new one have no turns yet, so maybe no entry: listed on top.
      for (const name of [this._host.notebookChat() ?? binding.chat, binding.chat]) {
        if (!chats.some(c => c.name === name)) {
          chats.unshift(emptyChat(name));
        }
      }
      const note = list.enabled ? '' : 'Transcripts are off: only the chats in this kernel’s memory.';
      this._menu.show({ chats, current: binding.chat, note }, this._now());
    } catch (error) {
      this._menu.fail(`Could not list the chats: ${errorText(error)}`);
    }
  }

  private _pick(chat: TranscriptChat): void {
    // A chat this kernel does not have in memory comes back from the transcripts file.
    void this._host.showChat(chat.name, { reopen: !chat.loaded });
  }

  /** The chats that can be reopened (`transcripts`). */
  private _listChats(client: KimiClient): Promise<TranscriptsReply> {
    return client.request<TranscriptsReply>({ type: 'transcripts' });
  }

  private _setNotice(text: string, error = false, report = false): void {
    setText(this.notice, text);
    this.notice.title = text;
    this.notice.hidden = !text;
    this.notice.classList.toggle('kimi-mod-error', error && !!text);
    this.notice.classList.toggle('kimi-mod-report', report && !!text);
  }

  private readonly _checkButton: HTMLButtonElement;
  private _checking = false;
  private readonly _host: ChatActionsHost;
  private readonly _store: ChatStore;
  private readonly _files: ChatFiles | null;
  private readonly _now: () => number;
  private readonly _menu: ChatsMenu;
  private readonly _chatsButton: HTMLButtonElement;
  private readonly _newButton: HTMLButtonElement;
  private readonly _exportButton: HTMLButtonElement;
  private _creating = false;
  private _exporting = false;
}

/** A JupyterLab toolbar-style button: icon (if given), label, caret (if given). */
function actionButton(label: string, title: string, icon?: IconLike, caret?: IconLike): HTMLButtonElement {
  const button = h('button', {
    className: 'jp-ToolbarButtonComponent jp-Button jp-mod-minimal kimi-action',
    attrs: { type: 'button', title }
  });
  if (icon) {
    button.append(icon.element({ tag: 'span', className: 'jp-ToolbarButtonComponent-icon kimi-action-icon' }));
  }
  button.append(h('span', { className: 'jp-ToolbarButtonComponent-label kimi-action-label', text: label }));
  if (caret) {
    button.append(caret.element({ tag: 'span', className: 'kimi-action-caret' }));
  }
  return button;
}

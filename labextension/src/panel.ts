/**
 * The sidebar panel: which notebook it is bound to, a toolbar (Chats, New chat, Export), the
 * message list, the input box with Send / Stop, the provider selector and a footer with the
 * chat's tokens and cost.
 *
 * Messages are reduced into the per-chat state as they arrive; the DOM is re-rendered at
 * most once per animation frame.
 */

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import type { InsertCode } from './answer';
import {
  ChatsMenu,
  baseName,
  emptyChat,
  exportPath,
  freshChatName,
  memoryChoiceStore,
  type ChatChoiceStore,
  type ChatFiles,
  type IconLike,
  type ToolbarIcons
} from './chats';
import { KimiClient, type ClientStatus } from './client';
import { formatCost, formatCount, h, setText } from './dom';
import { kimiIcon } from './icon';
import {
  normalizeChats,
  normalizeProviders,
  normalizeTranscripts,
  type ApprovalAnswer,
  type AskOptions,
  type ChatsReply,
  type ExportReply,
  type KernelMessage,
  type ProviderInfo,
  type ProvidersReply,
  type TranscriptChat,
  type TranscriptsReply
} from './protocol';
import { initialState, reduce, runningRequest, totals, type Action, type ChatState } from './reducer';
import { TurnView } from './turn';

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

/** The chats a list request found (`transcripts`, or `chats` from an older kernel). */
interface ChatList {
  enabled: boolean;
  chats: TranscriptChat[];
  warning?: string;
}

/** How often to re-read the history of an answer restored while it was still running. */
const RESTORED_POLL_MS = 1500;

export interface PanelOptions {
  rendermime: IRenderMimeRegistry;
  insertCode: InsertCode;
  /** Where the chat picked per notebook is kept (default: in memory). */
  chatChoices?: ChatChoiceStore;
  /** Saving and opening exports (without it, Export is disabled). */
  files?: ChatFiles;
  /** Toolbar icons (LabIcons in JupyterLab; text-only buttons without them). */
  icons?: ToolbarIcons;
  /** The clock for "2 h ago" (tests). */
  now?: () => number;
}

export class KimiPanel extends Widget {
  constructor(options: PanelOptions) {
    super();
    this._rendermime = options.rendermime;
    this._insertCode = options.insertCode;
    this._files = options.files ?? null;
    this._now = options.now ?? Date.now;
    this._choiceStore = options.chatChoices ?? memoryChoiceStore();
    this._choicesReady = this._loadChoices();
    const icons = options.icons ?? {};
    this._chatsButton = actionButton('Chats', 'Show and reopen this notebook’s chats and others', icons.chats, icons.caret);
    this._chatsButton.setAttribute('aria-haspopup', 'menu');
    this._chatsButton.setAttribute('aria-expanded', 'false');
    this._newButton = actionButton('New chat', 'Start a fresh chat for this notebook (the current one stays in Chats)', icons.newChat);
    this._exportButton = actionButton('Export', 'Save this chat as a Markdown file next to the notebook and open it', icons.export);
    this._menu = new ChatsMenu(
      chat => this._pick(chat),
      () => this._chatsButton.setAttribute('aria-expanded', 'false')
    );
    this._menu.keepOpenFor(this._chatsButton);
    this._chatsButton.addEventListener('click', () => void this._toggleChats());
    this._newButton.addEventListener('click', () => void this.newChat());
    this._exportButton.addEventListener('click', () => void this.exportChat());
    this.addClass('kimi-panel');
    this.title.icon = kimiIcon;
    this.title.caption = 'Kimi chat';

    this._input.placeholder = 'Ask Kimi… (Enter sends, Shift+Enter for a new line)';
    this._input.rows = 3;
    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.send();
      }
    });
    this._input.addEventListener('input', () => this._renderControls());
    this._send.addEventListener('click', () => void this.send());
    this._stop.addEventListener('click', () => void this.stop());
    this._retry.addEventListener('click', () => void this._connectBound());
    this._errorClose.addEventListener('click', () => this._dispatchCurrent({ type: 'local/clear-error' }));

    this.node.append(
      h(
        'div',
        { className: 'kimi-header' },
        this._bound,
        h('div', { className: 'kimi-chat-actions' }, this._chatsButton, this._newButton, this._exportButton),
        this._providers,
        this._menu.node
      ),
      this._notice,
      this._connectionRow,
      this._messages,
      h('div', { className: 'kimi-chat-error' }, this._chatError, this._errorClose),
      h('div', { className: 'kimi-input' }, this._input, h('div', { className: 'kimi-buttons' }, this._send, this._stop)),
      this._footer
    );
    this._render();
  }

  /**
   * Bind to a notebook (or to nothing); switching notebooks switches conversations. `chat` is
   * the notebook's own chat: the panel shows the one picked for this notebook, if any.
   */
  bind(binding: Binding | null): void {
    this._raw = binding;
    this._apply(binding && { ...binding, chat: this._choices[choiceKey(binding)] ?? binding.chat });
  }

  private _apply(binding: Binding | null, connect = true): void {
    const previous = this._binding;
    this._binding = binding;
    const client = binding?.client ?? null;
    if (client && !this._clients.has(client)) {
      this._clients.add(client);
      client.messageReceived.connect(this._onMessage, this);
      client.statusChanged.connect(this._onClientStatus, this);
      client.reconnected.connect(this._onReconnected, this);
    }
    if (client) {
      this._clientChat.set(client, binding!.chat);
    }
    const sameChat = previous && binding && previous.chat === binding.chat && previous.client === binding.client;
    if (!sameChat) {
      this._menu.close();
      this._setNotice('');
    }
    if (binding && !sameChat) {
      if (!this._states.has(binding.chat)) {
        this._states.set(binding.chat, initialState(binding.chat));
      }
      this._providerList = client ? this._providerCache.get(client) ?? [] : [];
      // Connecting loads kimi_lab into the kernel: wait until the user opens the sidebar.
      if (this._everShown && connect) {
        void this._connectBound();
      }
    }
    this._forceFull = true;
    this._render();
  }

  get binding(): Binding | null {
    return this._binding;
  }

  /** The current chat's state (for tests and commands). */
  get state(): ChatState | null {
    return this._binding ? this._states.get(this._binding.chat) ?? null : null;
  }

  focusInput(): void {
    this._input.focus();
  }

  /** The notebook's own chat (the one the plugin bound), whichever chat is shown. */
  get notebookChat(): string | null {
    return this._raw?.chat ?? null;
  }

  /** Show `chat` for the bound notebook (remembered per notebook); `reopen` reloads it from the transcripts file. */
  async showChat(chat: string, options: { reopen?: boolean } = {}): Promise<void> {
    const binding = this._binding;
    if (!binding || chat === binding.chat) {
      return;
    }
    this._choose(chat);
    const client = binding.client;
    if (client && this._everShown) {
      await this._loadHistory(client, chat, options.reopen === true);
    }
  }

  /**
   * New chat: bind this notebook to `<notebook's chat> (n)`, a name no listed chat has; the
   * previous chat stays in the transcripts (Chats reaches it).
   */
  async newChat(): Promise<void> {
    const binding = this._binding;
    const client = binding?.client;
    if (!binding || !client || this._running(binding) || this._creating) {
      return;
    }
    this._creating = true;
    this._renderControls();
    try {
      let listed: TranscriptChat[];
      try {
        listed = (await this._listChats(client)).chats;
      } catch (error) {
        this._setNotice(`Could not list the chats: ${errorText(error)}`, true);
        return;
      }
      if (!sameView(this._binding, binding)) {
        return; // the user moved on meanwhile
      }
      const taken = new Set(listed.map(c => c.name));
      taken.add(binding.chat);
      for (const [name, state] of this._states) {
        if (state.turns.length > 0) {
          taken.add(name);
        }
      }
      const name = freshChatName(this._raw?.chat ?? binding.chat, taken);
      this._choose(name);
      this._setNotice(`New chat “${name}”; the previous one is in Chats.`);
    } finally {
      this._creating = false;
      this._renderControls();
    }
  }

  /** Export: the chat as Markdown, saved as a new file next to the notebook and opened. */
  async exportChat(): Promise<void> {
    const binding = this._binding;
    const client = binding?.client;
    const files = this._files;
    if (!binding || !client || !files || this._exporting) {
      return;
    }
    const chat = binding.chat;
    this._exporting = true;
    this._setNotice(`Exporting “${chat}”…`);
    this._renderControls();
    let path = '';
    try {
      const reply = await client.request<ExportReply>({ type: 'export', chat });
      const markdown = typeof reply.markdown === 'string' ? reply.markdown : '';
      // Each turn is a `## n. …` section in both of the kernel's exports; a chat without turns
      // is just its title.
      const empty = typeof reply.turns === 'number' ? reply.turns === 0 : !/^## /m.test(markdown);
      if (empty) {
        this._setNotice(`Nothing to export: “${chat}” has no turns yet.`);
        return;
      }
      path = await exportPath(binding.path ?? binding.notebook, chat, p => files.exists(p));
      await files.save(path, markdown);
      const turns = this._exportedTurns(reply, chat);
      const what = turns > 0 ? `${turns} turn${turns === 1 ? '' : 's'}` : `“${chat}”`;
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
      this._renderControls();
    }
  }

  /** Send the input box as an `ask` in the bound chat. */
  async send(): Promise<void> {
    const binding = this._binding;
    const prompt = this._input.value.trim();
    const client = binding?.client;
    if (!binding || !client || !prompt || this._running(binding)) {
      return;
    }
    this._input.value = '';
    const options: AskOptions = {};
    const choice = this._providerList.find(p => p.name === this._providers.value);
    if (choice) {
      options.provider = choice.name;
      if (choice.model) {
        options.model = choice.model;
      }
    }
    const chat = binding.chat;
    const requestId = this._newId(chat, prompt);
    try {
      await client.send({ type: 'ask', chat, prompt, options }, requestId);
    } catch (error) {
      this._dispatch(chat, { type: 'local/fail', request_id: requestId, message: String((error as Error).message ?? error) });
    }
  }

  /** Stop the answer that is running in the bound chat. */
  async stop(): Promise<void> {
    const binding = this._binding;
    const state = this.state;
    const requestId = state ? runningRequest(state) : null;
    if (!binding?.client || !requestId) {
      return;
    }
    try {
      await binding.client.send({ type: 'stop' }, requestId);
    } catch (error) {
      this._dispatch(binding.chat, { type: 'local/fail', request_id: requestId, message: String((error as Error).message ?? error) });
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    for (const client of this._clients) {
      client.messageReceived.disconnect(this._onMessage, this);
      client.statusChanged.disconnect(this._onClientStatus, this);
      client.reconnected.disconnect(this._onReconnected, this);
    }
    this._turnViews.forEach(v => v.dispose());
    this._menu.dispose();
    super.dispose();
  }

  /** Forget a client whose kernel went away. */
  forgetClient(client: KimiClient): void {
    if (this._clients.delete(client)) {
      client.messageReceived.disconnect(this._onMessage, this);
      client.statusChanged.disconnect(this._onClientStatus, this);
      client.reconnected.disconnect(this._onReconnected, this);
    }
    this._clientChat.delete(client);
    this._providerCache.delete(client);
  }

  protected onAfterShow(): void {
    if (!this._everShown) {
      this._everShown = true;
      void this._connectBound();
    }
    this._forceFull = true;
    this._render();
  }

  private _everShown = false;

  // -------------------------------------------------------------------------------------
  // State.

  /** A request id for an ask, registered to its chat and shown as a turn at once. */
  private _newId(chat: string, prompt: string): string {
    const id = `ask-${Date.now().toString(36)}-${++this._seq}`;
    this._requestChat.set(id, chat);
    this._dispatch(chat, { type: 'local/ask', request_id: id, prompt });
    return id;
  }

  private _dispatch(chat: string, action: Action): void {
    const before = this._states.get(chat) ?? initialState(chat);
    const after = reduce(before, action);
    if (after !== before) {
      this._states.set(chat, after);
      if (this._binding?.chat === chat) {
        this._scheduleRender();
      }
    }
  }

  private _dispatchCurrent(action: Action): void {
    if (this._binding) {
      this._dispatch(this._binding.chat, action);
    }
  }

  private _running(binding: Binding): boolean {
    // Includes an answer restored from history that another comm started (it has no id here).
    const state = this._states.get(binding.chat);
    return !!state && state.turns.some(t => !t.done);
  }

  private _onMessage(client: KimiClient, message: KernelMessage): void {
    let chat: string | undefined;
    if (message.type === 'history') {
      chat = message.chat ?? this._requestChat.get(message.request_id);
    } else {
      chat = this._requestChat.get(message.request_id);
    }
    if (
      message.type === 'providers' ||
      message.type === 'chats' ||
      message.type === 'transcripts' ||
      message.type === 'export' ||
      message.type === 'hello'
    ) {
      return;
    }
    if (chat === undefined) {
      // An answer this view did not start (e.g. running before a reload): its client's chat.
      chat = this._clientChat.get(client);
      if (chat === undefined) {
        return;
      }
      if (message.type !== 'error') {
        this._requestChat.set(message.request_id, chat);
      }
    }
    this._dispatch(chat, message);
    if (message.type === 'result' || message.type === 'error') {
      this._renderControls();
    }
  }

  private _onClientStatus(client: KimiClient, _status: ClientStatus): void {
    if (client === this._binding?.client) {
      this._scheduleRender();
    }
  }

  private _onReconnected(client: KimiClient): void {
    const chat = this._clientChat.get(client);
    if (chat !== undefined) {
      void this._loadHistory(client, chat);
    }
    void this._loadProviders(client);
  }

  private async _connectBound(): Promise<void> {
    await this._choicesReady; // so the first history is the chat picked for this notebook
    const binding = this._binding;
    const client = binding?.client;
    if (!binding || !client) {
      return;
    }
    try {
      await client.connect();
    } catch {
      this._scheduleRender();
      return;
    }
    await Promise.all([this._loadHistory(client, binding.chat), this._loadProviders(client)]);
  }

  private async _loadHistory(client: KimiClient, chat: string, reopen = false): Promise<void> {
    try {
      const reply = await client.request(reopen ? { type: 'history', chat, reopen: true } : { type: 'history', chat });
      if (reply.type === 'history') {
        this._dispatch(chat, { ...reply, chat: reply.chat ?? chat });
        this._followRestored(client, chat);
      }
    } catch (error) {
      this._dispatch(chat, { type: 'error', request_id: '', message: `Could not load the chat's history: ${(error as Error).message}` });
    }
  }

  /**
   * An answer restored from history that is still running was started on another comm (before
   * a page reload, say). The kernel attaches this comm to it and says so with the turn's
   * `request_id`; a kernel with an older kimi_lab does not, so its turn is polled until done.
   */
  private _followRestored(client: KimiClient, chat: string): void {
    const state = this._states.get(chat);
    const last = state?.turns[state.turns.length - 1];
    if (!last || last.done || last.requestId !== null || this._following.has(chat)) {
      return;
    }
    this._following.add(chat);
    window.setTimeout(() => {
      this._following.delete(chat);
      const binding = this._binding;
      if (!this.isDisposed && binding?.client === client && binding.chat === chat && client.status === 'ready') {
        void this._loadHistory(client, chat);
      }
    }, RESTORED_POLL_MS);
  }

  private async _loadProviders(client: KimiClient): Promise<void> {
    if (this._providerCache.has(client)) {
      return;
    }
    try {
      const reply = await client.request<ProvidersReply>({ type: 'providers' });
      const list = normalizeProviders(reply);
      this._providerCache.set(client, list);
      if (this._binding?.client === client) {
        this._providerList = list;
        this._renderProviders();
      }
    } catch {
      // No selector then: the kernel's default provider answers.
    }
  }

  // -------------------------------------------------------------------------------------
  // Chats, New chat, Export.

  private async _loadChoices(): Promise<void> {
    let loaded: Record<string, string> = {};
    try {
      loaded = await this._choiceStore.load();
    } catch {
      // No stored choices: every notebook shows its own chat.
    }
    const merged: Record<string, string> = {};
    for (const [key, chat] of Object.entries(loaded ?? {})) {
      if (typeof chat === 'string' && !this._touched.has(key)) {
        merged[key] = chat;
      }
    }
    this._choices = { ...merged, ...this._choices };
    const raw = this._raw;
    if (raw && !this.isDisposed) {
      const want = this._choices[choiceKey(raw)] ?? raw.chat;
      if (want !== this._binding?.chat) {
        // Whoever awaits _choicesReady (the first connect) loads its history.
        this._apply({ ...raw, chat: want }, false);
      }
    }
  }

  /** Show `chat` for the bound notebook and remember the choice (without loading its history). */
  private _choose(chat: string): void {
    const raw = this._raw;
    if (!raw) {
      return;
    }
    const key = choiceKey(raw);
    this._touched.add(key);
    if (chat === raw.chat) {
      delete this._choices[key];
    } else {
      this._choices[key] = chat;
    }
    void this._choicesReady
      .then(() => this._choiceStore.save({ ...this._choices }))
      .catch(() => {
        // Not persisted: the choice lasts as long as the page.
      });
    this._apply({ ...raw, chat }, false);
  }

  private async _toggleChats(): Promise<void> {
    if (this._menu.isOpen) {
      this._menu.close();
      return;
    }
    const binding = this._binding;
    const client = binding?.client;
    if (!binding || !client) {
      return;
    }
    this._menu.open();
    this._chatsButton.setAttribute('aria-expanded', 'true');
    try {
      const list = await this._listChats(client);
      if (!sameView(this._binding, binding)) {
        return; // another notebook or chat meanwhile (that closed the menu)
      }
      const chats = list.chats.slice();
      // The notebook's own chat and a new one have no turns yet, so maybe no entry: listed on top.
      for (const name of [this._raw?.chat ?? binding.chat, binding.chat]) {
        if (!chats.some(c => c.name === name)) {
          chats.unshift(emptyChat(name));
        }
      }
      let note = list.warning ?? '';
      if (!list.enabled && !note) {
        note = 'Transcripts are off: only the chats in this kernel’s memory.';
      }
      this._menu.show({ chats, current: binding.chat, note }, this._now());
    } catch (error) {
      this._menu.fail(`Could not list the chats: ${errorText(error)}`);
    }
  }

  private _pick(chat: TranscriptChat): void {
    // A chat this kernel does not have in memory comes back from the transcripts file.
    void this.showChat(chat.name, { reopen: !chat.loaded });
  }

  /** The chats: `transcripts`, or `chats` (this kernel's memory only) from an older kimi_lab. */
  private async _listChats(client: KimiClient): Promise<ChatList> {
    let list: ChatList;
    try {
      const reply = await client.request<TranscriptsReply>({ type: 'transcripts' });
      list = normalizeTranscripts(reply);
    } catch (error) {
      let names: string[];
      try {
        const reply = await client.request<ChatsReply>({ type: 'chats' });
        names = normalizeChats(reply.chats);
        const details = Array.isArray(reply.chats) ? normalizeTranscripts({ chats: reply.chats }).chats : [];
        list = {
          enabled: false,
          chats: names.map(name => ({ ...emptyChat(name), ...details.find(d => d.name === name), loaded: true })),
          warning: `No transcripts list (${errorText(error)}): only the chats in this kernel’s memory.`
        };
      } catch {
        throw error;
      }
    }
    this._listed = list.chats;
    return list;
  }

  private _exportedTurns(reply: ExportReply, chat: string): number {
    if (typeof reply.turns === 'number') {
      return reply.turns;
    }
    const listed = this._listed.find(c => c.name === chat);
    if (listed && reply.source === 'transcripts') {
      return listed.turns;
    }
    return this._states.get(chat)?.turns.length ?? 0;
  }

  private _setNotice(text: string, error = false): void {
    setText(this._notice, text);
    this._notice.title = text;
    this._notice.hidden = !text;
    this._notice.classList.toggle('kimi-mod-error', error && !!text);
  }

  // -------------------------------------------------------------------------------------
  // Rendering, at most once per animation frame.

  private _scheduleRender(): void {
    if (this._frame || this.isDisposed) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._render();
    });
  }

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const binding = this._binding;
    if (!binding) {
      setText(this._bound, 'Open a notebook to chat with Kimi in its kernel.');
    } else {
      setText(this._bound, `${binding.notebook} · chat “${binding.chat}”`);
      const name = /[\s"']/.test(binding.chat) ? JSON.stringify(binding.chat) : binding.chat;
      this._bound.title = `Bound to ${binding.notebook}; the same conversation is %%kimi --chat ${name}`;
    }
    this._renderConnection();
    this._renderProviders();
    this._renderMessages();
    this._renderControls();
    this._renderFooter();
  }

  private _renderConnection(): void {
    const binding = this._binding;
    const client = binding?.client ?? null;
    let text = '';
    let failed = false;
    if (binding && !client) {
      text = binding.note ?? 'This notebook has no kernel.';
    } else if (client) {
      switch (client.status) {
        case 'connecting':
          text = 'Connecting to the kernel…';
          break;
        case 'error':
          text = client.error ?? 'Could not connect.';
          failed = true;
          break;
        case 'idle':
          text = 'Not connected (the kernel restarted?).';
          failed = true;
          break;
        case 'ready': {
          const hello = client.hello;
          const target = hello?.model ? ` · ${hello.provider ? `${hello.provider}/` : ''}${hello.model}` : ' · no provider configured yet';
          text = hello ? `kimi_lab ${hello.version}${target}` : '';
          break;
        }
        default:
          text = '';
      }
    }
    setText(this._connection, text);
    this._connection.classList.toggle('kimi-mod-error', failed);
    // In the row only when connecting failed or the comm is gone: `hidden` alone would not hide
    // it, since JupyterLab's `.jp-Button { display: inline-flex }` overrides the attribute.
    const shown = this._retry.parentNode === this._connectionRow;
    if (failed && !shown) {
      this._connectionRow.append(this._retry);
    } else if (!failed && shown) {
      this._retry.remove();
    }
  }

  private _renderProviders(): void {
    const list = this._providerList;
    this._providers.hidden = list.length === 0;
    const key = JSON.stringify(list);
    if (key === this._providersKey) {
      return;
    }
    this._providersKey = key;
    const selected = this._providers.value;
    this._providers.replaceChildren(
      h('option', { text: 'Kernel default', attrs: { value: '' } }),
      ...list.map(p => {
        const label = `${p.name}${p.model ? ` · ${p.model}` : ''}${p.key_set ? '' : ' (no key)'}`;
        const option = h('option', { text: label, attrs: { value: p.name } });
        option.title = p.note ?? '';
        return option;
      })
    );
    if (list.some(p => p.name === selected)) {
      this._providers.value = selected;
    }
  }

  private _renderMessages(): void {
    const state = this.state;
    const turns = state?.turns ?? [];
    if (this._forceFull || this._shownChat !== (state?.chat ?? null)) {
      this._turnViews.forEach(v => v.dispose());
      this._turnViews = [];
      this._messages.replaceChildren();
      this._shownChat = state?.chat ?? null;
      this._forceFull = false;
    }
    const atBottom = this._messages.scrollHeight - this._messages.scrollTop - this._messages.clientHeight < 40;
    // History can replace turns wholesale: rebuild when the list shrank.
    if (turns.length < this._turnViews.length) {
      this._turnViews.splice(turns.length).forEach(v => {
        v.dispose();
        v.node.remove();
      });
    }
    turns.forEach((turn, i) => {
      let view = this._turnViews[i];
      if (!view) {
        view = new TurnView(this._rendermime, this._insertCode, (callId, answer) =>
          this._approve(this.state?.turns[i]?.requestId ?? null, callId, answer)
        );
        this._turnViews.push(view);
        this._messages.append(view.node);
      }
      view.update(turn);
    });
    if (turns.length === 0) {
      if (!this._empty.isConnected) {
        this._messages.append(this._empty);
      }
    } else {
      this._empty.remove();
    }
    const restored = state?.restored ?? 0;
    if (restored > 0) {
      setText(
        this._restoredNote,
        `Reopened ${restored === 1 ? '1 earlier turn' : `${formatCount(restored)} earlier turns`} from the transcripts file.`
      );
      if (this._messages.firstChild !== this._restoredNote) {
        this._messages.prepend(this._restoredNote);
      }
    } else {
      this._restoredNote.remove();
    }
    if (atBottom) {
      this._messages.scrollTop = this._messages.scrollHeight;
    }
    const error = state?.error ?? null;
    setText(this._chatError, error ?? '');
    (this._chatError.parentElement as HTMLElement).hidden = !error;
  }

  private _renderControls(): void {
    const binding = this._binding;
    const ready = !!binding?.client && binding.client.status !== 'error';
    const running = !!binding && this._running(binding);
    this._send.disabled = !ready || running || !this._input.value.trim();
    const state = this.state;
    this._stop.disabled = !running || !state || runningRequest(state) === null;
    this._input.disabled = !binding?.client;
    const client = binding?.client ?? null;
    this._chatsButton.disabled = !client;
    this._newButton.disabled = !client || running || this._creating;
    this._newButton.title = running
      ? 'New chat: wait for the answer to finish (or stop it)'
      : 'Start a fresh chat for this notebook (the current one stays in Chats)';
    this._exportButton.disabled = !client || !this._files || this._exporting;
  }

  private _renderFooter(): void {
    const state = this.state;
    if (!state || state.turns.length === 0) {
      setText(this._footer, '');
      return;
    }
    const t = totals(state);
    const parts = [`${formatCount(t.prompt)} in`, `${formatCount(t.completion)} out`];
    if (t.reasoning) {
      parts.push(`${formatCount(t.reasoning)} reasoning`);
    }
    const cost = formatCost(t.cost);
    setText(this._footer, `Tokens: ${parts.join(' · ')}${cost ? ` · Cost: ${cost}` : ''}`);
  }

  private _approve(requestId: string | null, callId: string, answer: ApprovalAnswer): void {
    const binding = this._binding;
    if (!binding?.client || !requestId) {
      return;
    }
    const chat = binding.chat;
    binding.client.send({ type: 'approve', call_id: callId, answer }, requestId).then(
      () => this._dispatch(chat, { type: 'local/approve', request_id: requestId, call_id: callId }),
      error => this._dispatch(chat, { type: 'local/fail', request_id: requestId, message: String((error as Error).message ?? error) })
    );
  }

  private _binding: Binding | null = null;
  /** As the plugin bound it: `chat` is the notebook's own chat. */
  private _raw: Binding | null = null;
  private _choices: Record<string, string> = {};
  /** Notebooks whose choice changed here before the stored choices loaded. */
  private readonly _touched = new Set<string>();
  private readonly _choiceStore: ChatChoiceStore;
  private readonly _choicesReady: Promise<void>;
  private readonly _files: ChatFiles | null;
  private readonly _now: () => number;
  private _listed: TranscriptChat[] = [];
  private _creating = false;
  private _exporting = false;
  private readonly _menu: ChatsMenu;
  private readonly _chatsButton: HTMLButtonElement;
  private readonly _newButton: HTMLButtonElement;
  private readonly _exportButton: HTMLButtonElement;
  private readonly _notice = h('div', { className: 'kimi-notice', attrs: { role: 'status', hidden: '' } });
  private readonly _restoredNote = h('div', { className: 'kimi-restored-note' });
  private _seq = 0;
  private _frame = 0;
  private _forceFull = true;
  private _shownChat: string | null = null;
  private _providersKey = '';
  private _providerList: ProviderInfo[] = [];
  private _turnViews: TurnView[] = [];
  private readonly _rendermime: IRenderMimeRegistry;
  private readonly _insertCode: InsertCode;
  private readonly _states = new Map<string, ChatState>();
  private readonly _requestChat = new Map<string, string>();
  private readonly _clients = new Set<KimiClient>();
  private readonly _clientChat = new Map<KimiClient, string>();
  private readonly _providerCache = new Map<KimiClient, ProviderInfo[]>();
  private readonly _following = new Set<string>();

  private readonly _bound = h('div', { className: 'kimi-bound' });
  private readonly _providers = h('select', { className: 'kimi-providers jp-mod-styled', attrs: { title: 'Provider and model' } });
  private readonly _connection = h('span', { className: 'kimi-connection-text' });
  private readonly _retry = h('button', {
    className: 'jp-Button jp-mod-minimal kimi-retry',
    text: 'Retry',
    attrs: { type: 'button', title: 'Connect to the kernel again' }
  });
  private readonly _connectionRow = h('div', { className: 'kimi-connection' }, this._connection);
  private readonly _messages = h('div', { className: 'kimi-messages' });
  private readonly _empty = h('div', { className: 'kimi-empty', text: 'Ask about this notebook: the model runs in its kernel, with its variables at hand.' });
  private readonly _chatError = h('span');
  private readonly _errorClose = h('button', { className: 'jp-Button jp-mod-minimal', text: '×', attrs: { type: 'button', title: 'Dismiss' } });
  private readonly _input = h('textarea', { className: 'kimi-input-box jp-mod-styled' });
  private readonly _send = h('button', { className: 'jp-Button jp-mod-styled jp-mod-accept', text: 'Send', attrs: { type: 'button' } });
  private readonly _stop = h('button', { className: 'jp-Button jp-mod-styled jp-mod-warn', text: 'Stop', attrs: { type: 'button' } });
  private readonly _footer = h('div', { className: 'kimi-footer' });
}

function choiceKey(binding: Binding): string {
  return binding.path ?? binding.notebook;
}

/** The same notebook, chat and kernel (the plugin rebinds with new objects on kernel events). */
function sameView(a: Binding | null, b: Binding): boolean {
  return !!a && choiceKey(a) === choiceKey(b) && a.chat === b.chat && a.client === b.client;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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

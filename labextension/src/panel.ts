/**
 * The sidebar panel: which notebook it is bound to, a toolbar (Chats, New chat, Export), the
 * message list, the input box with Send / Stop, the provider selector and a footer with the
 * chat's tokens and cost. The panel binds, connects and wires these parts together.
 *
 * Messages are reduced into the per-chat state as they arrive; the DOM is re-rendered at
 * most once per animation frame.
 */

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import type { InsertCode } from './answer';
import type { Binding } from './binding';
import { ChatActions, type ChatFiles, type ToolbarIcons } from './chatactions';
import { ChatStore } from './chatstore';
import { ChatChoices, memoryChoiceStore, type ChatChoiceStore } from './choices';
import type { ClientStatus, KimiClient } from './client';
import { ConnectionRow } from './connection';
import { formatCost, formatCount, h, setText } from './dom';
import { kimiIcon } from './icon';
import { MessageList } from './messages';
import type { ApprovalAnswer, KernelMessage } from './protocol';
import { ProviderPicker } from './providers';
import { runningRequest, totals, type ChatState } from './reducer';
import { widenOnce, type WidenedFlag } from './sidebarwidth';

export type { Binding } from './binding';

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
  /**
   * Whether the side area was already widened to a usable width once (see sidebarwidth.ts);
   * without it the panel keeps whatever width it is given.
   */
  widened?: WidenedFlag;
}

export class KimiPanel extends Widget {
  constructor(options: PanelOptions) {
    super();
    this._choices = new ChatChoices(options.chatChoices ?? memoryChoiceStore(), () => this._showChosen());
    this._store = new ChatStore({
      shown: () => (this.isDisposed ? null : this._binding),
      changed: chat => {
        if (this._binding?.chat === chat) {
          this._scheduleRender();
        }
      }
    });
    this._providers = new ProviderPicker(() => this._binding?.client ?? null);
    this._connection = new ConnectionRow(() => void this._connectBound());
    this._messages = new MessageList({
      rendermime: options.rendermime,
      insertCode: options.insertCode,
      // The turn's request id as of the click: a turn restored from history gets one later.
      approve: (index, callId, answer) => this._approve(this.state?.turns[index]?.requestId ?? null, callId, answer),
      dismissError: () => {
        if (this._binding) {
          this._store.dispatch(this._binding.chat, { type: 'local/clear-error' });
        }
      }
    });
    this._widened = options.widened ?? null;
    this._actions = new ChatActions({
      host: {
        binding: () => this._binding,
        notebookChat: () => this.notebookChat,
        showChat: (chat, showOptions) => this.showChat(chat, showOptions),
        choose: chat => this._choose(chat),
        renderControls: () => this._renderControls()
      },
      store: this._store,
      files: options.files,
      icons: options.icons,
      now: options.now
    });
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

    this.node.append(
      h('div', { className: 'kimi-header' }, this._bound, this._actions.toolbar, this._providers.node, this._actions.menu),
      this._actions.notice,
      this._connection.node,
      this._messages.node,
      this._messages.errorLine,
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
    this._apply(binding && { ...binding, chat: this._choices.chatFor(binding) });
  }

  get binding(): Binding | null {
    return this._binding;
  }

  /** The current chat's state (for tests and commands). */
  get state(): ChatState | null {
    return this._binding ? this._store.state(this._binding.chat) : null;
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
      await this._store.loadHistory(client, chat, options.reopen === true);
    }
  }

  /** New chat (the toolbar's): see ChatActions.newChat. */
  newChat(): Promise<void> {
    return this._actions.newChat();
  }

  /** Export (the toolbar's): see ChatActions.exportChat. */
  exportChat(): Promise<void> {
    return this._actions.exportChat();
  }

  /** Send the input box as an `ask` in the bound chat. */
  async send(): Promise<void> {
    const binding = this._binding;
    const prompt = this._input.value.trim();
    const client = binding?.client;
    if (!binding || !client || !prompt || this._store.running(binding.chat)) {
      return;
    }
    this._input.value = '';
    this._messages.followLatest(); // the new question shows at the end, and its answer is followed
    await this._store.ask(client, binding.chat, prompt, this._providers.askOptions());
  }

  /** Stop the answer that is running in the bound chat. */
  async stop(): Promise<void> {
    const binding = this._binding;
    if (binding?.client) {
      await this._store.stop(binding.client, binding.chat);
    }
  }

  /** Forget a client whose kernel went away. */
  forgetClient(client: KimiClient): void {
    if (this._clients.delete(client)) {
      this._unwatch(client);
    }
    this._store.forget(client);
    this._providers.forget(client);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    this._clients.forEach(client => this._unwatch(client));
    this._messages.dispose();
    this._actions.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    if (!this._everShown) {
      this._everShown = true;
      void this._connectBound();
    }
    const widened = this._widened;
    if (widened) {
      // After this frame's layout, when the area has its width.
      requestAnimationFrame(() => void widenOnce(this, widened).catch(() => undefined));
    }
    this._messages.rebuild();
    this._render();
  }

  // -------------------------------------------------------------------------------------
  // Binding and connecting.

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
      this._store.setClientChat(client, binding!.chat);
    }
    const sameChat = previous && binding && previous.chat === binding.chat && previous.client === binding.client;
    if (!sameChat) {
      this._actions.chatSwitched();
    }
    if (binding && !sameChat) {
      this._store.open(binding.chat);
      this._providers.use(client);
      // Connecting loads kimi_lab into the kernel: wait until the user opens the sidebar.
      if (this._everShown && connect) {
        void this._connectBound();
      }
    }
    this._messages.rebuild();
    this._render();
  }

  /**
   * The notebook at `from` is now at `to` (renamed or moved): it keeps its conversation. Call
   * before binding the new path.
   */
  notebookMoved(from: { path: string; chat: string }, to: { path: string; chat: string }): void {
    this._choices.moved({ notebook: from.path, client: null, ...from }, { notebook: to.path, client: null, ...to });
  }

  /** Show `chat` for the bound notebook and remember the choice (without loading its history). */
  private _choose(chat: string): void {
    const raw = this._raw;
    if (!raw) {
      return;
    }
    this._choices.remember(raw, chat);
    this._apply({ ...raw, chat }, false);
  }

  /** The stored choices are in: show the chat picked for the bound notebook. */
  private _showChosen(): void {
    const raw = this._raw;
    if (raw && !this.isDisposed) {
      const want = this._choices.chatFor(raw);
      if (want !== this._binding?.chat) {
        // Whoever awaits the choices (the first connect) loads its history.
        this._apply({ ...raw, chat: want }, false);
      }
    }
  }

  private async _connectBound(): Promise<void> {
    await this._choices.ready; // so the first history is the chat picked for this notebook
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
    await Promise.all([this._store.loadHistory(client, binding.chat), this._providers.load(client)]);
  }

  private _unwatch(client: KimiClient): void {
    client.messageReceived.disconnect(this._onMessage, this);
    client.statusChanged.disconnect(this._onClientStatus, this);
    client.reconnected.disconnect(this._onReconnected, this);
  }

  private _onMessage(client: KimiClient, message: KernelMessage): void {
    if (this._store.receive(client, message) && (message.type === 'result' || message.type === 'error')) {
      this._renderControls(); // an answer ended: Send and New chat work again without waiting for a frame
    }
  }

  private _onClientStatus(client: KimiClient, _status: ClientStatus): void {
    if (client === this._binding?.client) {
      this._scheduleRender();
    }
  }

  private _onReconnected(client: KimiClient): void {
    const chat = this._store.clientChat(client);
    if (chat !== undefined) {
      void this._store.loadHistory(client, chat);
    }
    void this._providers.load(client);
  }

  private _approve(requestId: string | null, callId: string, answer: ApprovalAnswer): void {
    const binding = this._binding;
    if (binding?.client && requestId) {
      this._store.approve(binding.client, binding.chat, requestId, callId, answer);
    }
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
    this._renderBound();
    this._connection.render(this._binding);
    this._providers.render();
    this._messages.render(this.state);
    this._renderControls();
    this._renderFooter();
  }

  private _renderBound(): void {
    const binding = this._binding;
    if (!binding) {
      setText(this._bound, 'Open a notebook to chat with Kimi in its kernel.');
    } else {
      setText(this._bound, `${binding.notebook} · chat “${binding.chat}”`);
      const name = /[\s"']/.test(binding.chat) ? JSON.stringify(binding.chat) : binding.chat;
      this._bound.title = `Bound to ${binding.notebook}; the same conversation is %%kimi --chat ${name}`;
    }
  }

  private _renderControls(): void {
    const binding = this._binding;
    const ready = !!binding?.client && binding.client.status !== 'error';
    const running = !!binding && this._store.running(binding.chat);
    this._send.disabled = !ready || running || !this._input.value.trim();
    const state = this.state;
    this._stop.disabled = !running || !state || runningRequest(state) === null;
    this._input.disabled = !binding?.client;
    this._actions.render();
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

  /** The chat on screen. */
  private _binding: Binding | null = null;
  /** As the plugin bound it: `chat` is the notebook's own chat. */
  private _raw: Binding | null = null;
  /** The sidebar was opened once: until then nothing is loaded into the kernel. */
  private _everShown = false;
  private _frame = 0;
  private readonly _widened: WidenedFlag | null;
  private readonly _clients = new Set<KimiClient>();
  private readonly _choices: ChatChoices;
  private readonly _store: ChatStore;
  private readonly _providers: ProviderPicker;
  private readonly _connection: ConnectionRow;
  private readonly _messages: MessageList;
  private readonly _actions: ChatActions;

  private readonly _bound = h('div', { className: 'kimi-bound' });
  private readonly _input = h('textarea', { className: 'kimi-input-box jp-mod-styled' });
  private readonly _send = h('button', { className: 'jp-Button jp-mod-styled jp-mod-accept', text: 'Send', attrs: { type: 'button' } });
  private readonly _stop = h('button', { className: 'jp-Button jp-mod-styled jp-mod-warn', text: 'Stop', attrs: { type: 'button' } });
  private readonly _footer = h('div', { className: 'kimi-footer' });
}

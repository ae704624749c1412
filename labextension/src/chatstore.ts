/**
 * The per-chat states the sidebar shows, and everything that changes them: the kernel's
 * messages (routed to their chat), history loads, and the panel's own requests (ask, stop,
 * approve), whose failures land in the chat as errors.
 */

import type { Binding } from './binding';
import type { KimiClient } from './client';
import { errorText } from './dom';
import type { ApprovalAnswer, AskOptions, KernelMessage } from './protocol';
import { initialState, reduce, runningRequest, type Action, type ChatState } from './reducer';

export interface ChatStoreHost {
  /** The chat on screen; null when none (or the panel is gone). */
  shown(): Binding | null;
  /** `chat`'s state changed. */
  changed(chat: string): void;
}

export class ChatStore {
  constructor(host: ChatStoreHost) {
    this._host = host;
  }

  state(chat: string): ChatState | null {
    return this._states.get(chat) ?? null;
  }

  /** Give `chat` an empty state unless it has one (so a bound chat always has a state). */
  open(chat: string): void {
    if (!this._states.has(chat)) {
      this._states.set(chat, initialState(chat));
    }
  }

  /** Whether `chat` has an answer running (also one restored from history that another comm started). */
  running(chat: string): boolean {
    const state = this._states.get(chat);
    return !!state && state.turns.some(t => !t.done);
  }

  /** The chats with turns in this page (a new chat must not take their names). */
  chatsWithTurns(): string[] {
    return [...this._states].filter(([, state]) => state.turns.length > 0).map(([name]) => name);
  }

  dispatch(chat: string, action: Action): void {
    const before = this._states.get(chat) ?? initialState(chat);
    const after = reduce(before, action);
    if (after !== before) {
      this._states.set(chat, after);
      this._host.changed(chat);
    }
  }

  /** Answers on `client` that this view did not start go to `chat` (the chat last bound to it). */
  setClientChat(client: KimiClient, chat: string): void {
    this._clientChat.set(client, chat);
  }

  clientChat(client: KimiClient): string | undefined {
    return this._clientChat.get(client);
  }

  /** Forget a client whose kernel went away. */
  forget(client: KimiClient): void {
    this._clientChat.delete(client);
  }

  /** Apply what `client` said to its chat; false when it is no chat's (list replies, unknown ids). */
  receive(client: KimiClient, message: KernelMessage): boolean {
    if (
      message.type === 'providers' ||
      message.type === 'chats' ||
      message.type === 'transcripts' ||
      message.type === 'export' ||
      message.type === 'hello'
    ) {
      return false;
    }
    let chat: string | undefined;
    if (message.type === 'history') {
      chat = message.chat;
    } else if (message.request_id !== null) {
      chat = this._requestChat.get(message.request_id);
    }
    if (chat === undefined) {
      // An answer this view did not start (e.g. running before a reload): its client's chat.
      chat = this._clientChat.get(client);
      if (chat === undefined) {
        return false;
      }
      if (message.type !== 'error') {
        this._requestChat.set(message.request_id, chat);
      }
    }
    this.dispatch(chat, message);
    return true;
  }

  async loadHistory(client: KimiClient, chat: string, reopen = false): Promise<void> {
    try {
      const reply = await client.request(reopen ? { type: 'history', chat, reopen: true } : { type: 'history', chat });
      if (reply.type === 'history') {
        this.dispatch(chat, reply);
      }
    } catch (error) {
      this.dispatch(chat, { type: 'error', request_id: '', message: `Could not load the chat's history: ${errorText(error)}` });
    }
  }

  /** Ask `prompt` in `chat`: shown as a turn at once, failed there if it cannot be sent. */
  async ask(client: KimiClient, chat: string, prompt: string, options: AskOptions): Promise<void> {
    const requestId = `ask-${Date.now().toString(36)}-${++this._seq}`;
    this._requestChat.set(requestId, chat);
    this.dispatch(chat, { type: 'local/ask', request_id: requestId, prompt, at: Date.now() });
    try {
      await client.send({ type: 'ask', chat, prompt, options }, requestId);
    } catch (error) {
      this._fail(chat, requestId, error);
    }
  }

  /** Stop the answer running in `chat`, if it has one this view can name. */
  async stop(client: KimiClient, chat: string): Promise<void> {
    const state = this._states.get(chat);
    const requestId = state ? runningRequest(state) : null;
    if (!requestId) {
      return;
    }
    try {
      await client.send({ type: 'stop' }, requestId);
    } catch (error) {
      this._fail(chat, requestId, error);
    }
  }

  /** Answer a tool call's approval request; its buttons go once the kernel has the answer. */
  approve(client: KimiClient, chat: string, requestId: string, callId: string, answer: ApprovalAnswer): void {
    client.send({ type: 'approve', call_id: callId, answer }, requestId).then(
      () => this.dispatch(chat, { type: 'local/approve', request_id: requestId, call_id: callId }),
      error => this._fail(chat, requestId, error)
    );
  }

  private _fail(chat: string, requestId: string, error: unknown): void {
    this.dispatch(chat, { type: 'local/fail', request_id: requestId, message: errorText(error) });
  }

  private readonly _host: ChatStoreHost;
  private readonly _states = new Map<string, ChatState>();
  /** Which chat each request id belongs to. */
  private readonly _requestChat = new Map<string, string>();
  private readonly _clientChat = new Map<KimiClient, string>();
  private _seq = 0;
}

/**
 * The message list: one TurnView per turn of the shown chat, updated in place, with the
 * "reopened" note on top, a hint while the chat is empty, and the chat's error line under it.
 * It follows its end while answers grow unless the user scrolled up (see follow.ts).
 */

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import type { InsertCode } from './answer';
import { h, plural, setText } from './dom';
import { FollowScroller } from './follow';
import type { ApprovalAnswer } from './protocol';
import type { ChatState } from './reducer';
import { TurnView } from './turn';

export interface MessageListOptions {
  rendermime: IRenderMimeRegistry;
  insertCode: InsertCode;
  /** An approval button was clicked in the turn at `index`. */
  approve(index: number, callId: string, answer: ApprovalAnswer): void;
  /** The error line's × was clicked. */
  dismissError(): void;
}

export class MessageList {
  constructor(options: MessageListOptions) {
    this._options = options;
    this._errorClose.addEventListener('click', () => options.dismissError());
    this.errorLine = h('div', { className: 'kimi-chat-error' }, this._errorText, this._errorClose);
    this._scroller = new FollowScroller(this.list);
    this.node = h('div', { className: 'kimi-messages-area' }, this.list, this._scroller.jump);
  }

  /** The list and its Jump to latest button (placed by the panel). */
  readonly node: HTMLDivElement;
  /** The scrolling list of turns. */
  readonly list = h('div', { className: 'kimi-messages', attrs: { tabindex: '-1' } });
  /** The chat's error with its dismiss button (placed by the panel, under the list). */
  readonly errorLine: HTMLDivElement;

  /** Build the turn views afresh at the next render (another chat, or the sidebar shown again). */
  rebuild(): void {
    this._rebuild = true;
  }

  /** Whether the list keeps its end in view (tests). */
  get following(): boolean {
    return this._scroller.following;
  }

  /** Go to the end and follow it: the user asked a question (it shows at the end). */
  followLatest(): void {
    this._scroller.jumpToLatest();
  }

  render(state: ChatState | null): void {
    const turns = state?.turns ?? [];
    if (this._rebuild || this._shownChat !== (state?.chat ?? null)) {
      this._views.forEach(v => this._drop(v));
      this._views = [];
      this.list.replaceChildren();
      this._shownChat = state?.chat ?? null;
      this._rebuild = false;
      this._scroller.jumpToLatest(); // a chat (re)opens at its latest turn
    }
    // History can replace turns wholesale: rebuild when the list shrank.
    if (turns.length < this._views.length) {
      this._views.splice(turns.length).forEach(v => this._drop(v));
    }
    turns.forEach((turn, i) => {
      let view = this._views[i];
      if (!view) {
        view = new TurnView(this._options.rendermime, this._options.insertCode, (callId, answer) =>
          this._options.approve(i, callId, answer)
        );
        this._views.push(view);
        this.list.append(view.node);
        this._scroller.observe(view.node);
      }
      view.update(turn);
    });
    if (turns.length === 0) {
      if (!this._empty.isConnected) {
        this.list.append(this._empty);
      }
    } else {
      this._empty.remove();
    }
    const restored = state?.restored ?? 0;
    if (restored > 0) {
      setText(this._restoredNote, `Reopened ${plural(restored, 'earlier turn')} from the transcripts file.`);
      if (this.list.firstChild !== this._restoredNote) {
        this.list.prepend(this._restoredNote);
      }
    } else {
      this._restoredNote.remove();
    }
    this._scroller.settle(); // follow the answer unless the user scrolled up
    const error = state?.error ?? null;
    setText(this._errorText, error ?? '');
    this.errorLine.hidden = !error;
  }

  dispose(): void {
    this._views.forEach(v => v.dispose());
    this._scroller.dispose();
  }

  private _drop(view: TurnView): void {
    this._scroller.unobserve(view.node);
    view.dispose();
    view.node.remove();
  }

  private readonly _options: MessageListOptions;
  private readonly _scroller: FollowScroller;
  private _views: TurnView[] = [];
  private _rebuild = true;
  private _shownChat: string | null = null;
  private readonly _empty = h('div', { className: 'kimi-empty', text: 'Ask about this notebook: the model runs in its kernel, with its variables at hand.' });
  private readonly _restoredNote = h('div', { className: 'kimi-restored-note' });
  private readonly _errorText = h('span');
  private readonly _errorClose = h('button', { className: 'jp-Button jp-mod-minimal', text: '×', attrs: { type: 'button', title: 'Dismiss' } });
}

/**
 * The message list: one TurnView per turn of the shown chat, updated in place, with the
 * "reopened" note on top, a hint while the chat is empty, and the chat's error line under it.
 */

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import type { InsertCode } from './answer';
import { h, plural, setText } from './dom';
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
  }

  readonly node = h('div', { className: 'kimi-messages' });
  /** The chat's error with its dismiss button (placed by the panel, under the list). */
  readonly errorLine: HTMLDivElement;

  /** Build the turn views afresh at the next render (another chat, or the sidebar shown again). */
  rebuild(): void {
    this._rebuild = true;
  }

  render(state: ChatState | null): void {
    const turns = state?.turns ?? [];
    if (this._rebuild || this._shownChat !== (state?.chat ?? null)) {
      this._views.forEach(v => v.dispose());
      this._views = [];
      this.node.replaceChildren();
      this._shownChat = state?.chat ?? null;
      this._rebuild = false;
    }
    const atBottom = this.node.scrollHeight - this.node.scrollTop - this.node.clientHeight < 40;
    // History can replace turns wholesale: rebuild when the list shrank.
    if (turns.length < this._views.length) {
      this._views.splice(turns.length).forEach(v => {
        v.dispose();
        v.node.remove();
      });
    }
    turns.forEach((turn, i) => {
      let view = this._views[i];
      if (!view) {
        view = new TurnView(this._options.rendermime, this._options.insertCode, (callId, answer) =>
          this._options.approve(i, callId, answer)
        );
        this._views.push(view);
        this.node.append(view.node);
      }
      view.update(turn);
    });
    if (turns.length === 0) {
      if (!this._empty.isConnected) {
        this.node.append(this._empty);
      }
    } else {
      this._empty.remove();
    }
    const restored = state?.restored ?? 0;
    if (restored > 0) {
      setText(this._restoredNote, `Reopened ${plural(restored, 'earlier turn')} from the transcripts file.`);
      if (this.node.firstChild !== this._restoredNote) {
        this.node.prepend(this._restoredNote);
      }
    } else {
      this._restoredNote.remove();
    }
    if (atBottom) {
      this.node.scrollTop = this.node.scrollHeight; // follow the answer unless the user scrolled up
    }
    const error = state?.error ?? null;
    setText(this._errorText, error ?? '');
    this.errorLine.hidden = !error;
  }

  dispose(): void {
    this._views.forEach(v => v.dispose());
  }

  private readonly _options: MessageListOptions;
  private _views: TurnView[] = [];
  private _rebuild = true;
  private _shownChat: string | null = null;
  private readonly _empty = h('div', { className: 'kimi-empty', text: 'Ask about this notebook: the model runs in its kernel, with its variables at hand.' });
  private readonly _restoredNote = h('div', { className: 'kimi-restored-note' });
  private readonly _errorText = h('span');
  private readonly _errorClose = h('button', { className: 'jp-Button jp-mod-minimal', text: '×', attrs: { type: 'button', title: 'Dismiss' } });
}

/**
 * A tool-call card: name, arguments, status, duration, preview; approval buttons when pending.
 *
 * A call that asked shows the kernel's approval text (`display`: hidden characters made
 * visible, code numbered by Python's lines) and its warning, as text, in full, never as HTML:
 * the model chose every character of it, and the user allows what this card shows.
 */

import type { ApprovalAnswer } from './protocol';
import type { ToolCard } from './reducer';
import { formatSeconds, h, prettyArguments, setText } from './dom';

export type ApproveHandler = (callId: string, answer: ApprovalAnswer) => void;

const STATUS_LABEL: Record<string, string> = {
  preparing: 'preparing…',
  running: 'running…',
  pending: 'waiting for approval',
  ok: 'ok',
  error: 'error',
  denied: 'denied',
  timeout: 'timed out',
  // The turn ended (stopped, or the kernel died) before the call did.
  interrupted: 'interrupted'
};

/**
 * The card's detail text: the error and the preview, each shown once. For a call that did not
 * run or failed (denied, error, timeout) the kernel sends the same text as both the tool_end
 * `preview` (cut at 400 characters, ending in "…") and the result's `error`.
 */
export function detailText(error: string | null, preview: string): string {
  const e = (error ?? '').trim();
  const p = preview.trim();
  if (!e || p === e) {
    return p;
  }
  if (!p) {
    return e;
  }
  const stem = p.endsWith('…') ? p.slice(0, -1) : p;
  if (e.startsWith(stem)) {
    return e; // the preview is (a cut of) the error
  }
  if (p.includes(e)) {
    return p;
  }
  return `${e}\n${p}`;
}

export class ToolCardView {
  constructor(private readonly onApprove: ApproveHandler) {
    this.node = h(
      'div',
      { className: 'kimi-tool' },
      h('div', { className: 'kimi-tool-head' }, this._name, this._status, this._duration),
      this._warning,
      this._args,
      this._preview,
      this._buttons
    );
  }

  readonly node: HTMLDivElement;

  update(card: ToolCard, pending: boolean): void {
    if (card === this._card && pending === this._pending) {
      return;
    }
    this._card = card;
    this._pending = pending;
    this.node.dataset.status = String(card.status);
    setText(this._name, card.name || 'tool');
    setText(this._status, STATUS_LABEL[card.status] ?? String(card.status));
    setText(this._duration, formatSeconds(card.duration));
    const args = card.shown ?? prettyArguments(card.arguments);
    setText(this._args, args);
    this._args.hidden = !args;
    setText(this._warning, card.warning ?? '');
    this._warning.hidden = !card.warning;
    const preview = detailText(card.error, card.preview);
    setText(this._preview, preview);
    this._preview.hidden = !preview;
    this._buttons.replaceChildren();
    if (pending) {
      this._buttons.append(
        this._button('Allow', 'yes', 'jp-mod-accept', 'Run this call once'),
        this._button('Deny', 'no', 'jp-mod-warn', 'Do not run this call'),
        this._button('Always allow', 'always', 'kimi-tool-always', `Allow ${card.name || 'this tool'} for the rest of this session`)
      );
    }
    this._buttons.hidden = !pending;
  }

  private _button(label: string, answer: ApprovalAnswer, mod: string, title: string): HTMLButtonElement {
    const button = h('button', {
      className: `jp-Button jp-mod-styled kimi-tool-button ${mod}`,
      text: label,
      attrs: { type: 'button', title }
    });
    button.addEventListener('click', () => {
      if (this._card) {
        this._buttons.querySelectorAll('button').forEach(b => (b.disabled = true));
        this.onApprove(this._card.id, answer);
      }
    });
    return button;
  }

  private _card: ToolCard | null = null;
  private _pending = false;
  private readonly _name = h('span', { className: 'kimi-tool-name' });
  private readonly _status = h('span', { className: 'kimi-tool-status' });
  private readonly _duration = h('span', { className: 'kimi-tool-duration' });
  private readonly _warning = h('div', { className: 'kimi-tool-warning', attrs: { role: 'alert' } });
  private readonly _args = h('pre', { className: 'kimi-tool-args' });
  private readonly _preview = h('pre', { className: 'kimi-tool-preview' });
  private readonly _buttons = h('div', { className: 'kimi-tool-buttons' });
}

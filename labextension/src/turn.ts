/**
 * One turn: the prompt, a live status line while it runs ("Thinking… 3.8 s · 1 tool call"),
 * then a two-column live view — reasoning segments, the model's remarks between tool rounds
 * (notes, in italics as the Python faces show them) and tool cards on the left (muted,
 * collapsible, kept scrolled to the end), the answer on the right — then the turn's tokens,
 * cost and timings.
 */

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { AnswerView, type InsertCode } from './answer';
import { formatCost, formatCount, formatSeconds, h, setText, streamText } from './dom';
import { LiveStatus } from './livestatus';
import type { Step, Turn } from './reducer';
import { ToolCardView, type ApproveHandler } from './toolcard';

/**
 * What a stopped turn's footer says (finish reason `cancelled`): the same words as the Python
 * chat panel, so both faces of a chat agree.
 */
export const STOPPED_MARK = '⏹ stopped';

type StepView =
  | { kind: 'reasoning'; node: HTMLDivElement; step: Step | null }
  | { kind: 'note'; node: HTMLDivElement; step: Step | null }
  | { kind: 'tool'; view: ToolCardView; node: HTMLDivElement };

function newStepView(step: Step, onApprove: ApproveHandler): StepView {
  switch (step.kind) {
    case 'reasoning':
      return { kind: 'reasoning', node: h('div', { className: 'kimi-reasoning-text' }), step: null };
    case 'note':
      return { kind: 'note', node: h('div', { className: 'kimi-reasoning-text kimi-note' }), step: null };
    default: {
      const card = new ToolCardView(onApprove);
      return { kind: 'tool', view: card, node: card.node };
    }
  }
}

export class TurnView {
  constructor(rendermime: IRenderMimeRegistry, insertCode: InsertCode, onApprove: ApproveHandler) {
    this._onApprove = onApprove;
    this._answer = new AnswerView(rendermime, insertCode);
    this._details = h('details', { className: 'kimi-reasoning', attrs: { open: '' } }, this._summary, this._steps);
    this._details.addEventListener('toggle', () => {
      this._columns.classList.toggle('kimi-mod-collapsed', !this._details.open);
      if (this._details.open) {
        this._steps.scrollTop = this._steps.scrollHeight;
      }
    });
    this._columns = h('div', { className: 'kimi-columns' }, this._details, this._answer.node);
    this.node = h(
      'div',
      { className: 'kimi-turn' },
      this._prompt,
      this._statuses,
      this._live.node,
      this._columns,
      this._error,
      this._footer
    );
  }

  readonly node: HTMLDivElement;

  update(turn: Turn): void {
    if (turn === this._turn) {
      return;
    }
    this._turn = turn;
    setText(this._prompt, turn.prompt);
    this._prompt.hidden = !turn.prompt;

    this._statuses.replaceChildren(
      ...turn.statuses.map(s => h('div', { className: `kimi-status kimi-status-${s.level}`, text: s.message }))
    );

    this._updateSteps(turn);
    this._details.hidden = turn.steps.length === 0;
    this._columns.classList.toggle('kimi-mod-single', turn.steps.length === 0);
    setText(this._summary, this._summaryText(turn));

    this._live.update(turn);
    this._answer.update(turn.answer, turn.done);

    setText(this._error, turn.error ?? '');
    this._error.hidden = !turn.error;
    setText(this._footer, this._footerText(turn));
    this.node.classList.toggle('kimi-mod-running', !turn.done);
  }

  dispose(): void {
    this._answer.dispose();
    this._live.dispose();
  }

  private _updateSteps(turn: Turn): void {
    const pending = new Set(turn.approvals.map(a => a.callId));
    let changed = false;
    turn.steps.forEach((step, i) => {
      let view: StepView | undefined = this._stepViews[i];
      if (view && view.kind !== step.kind) {
        // A step changed kind (the result dropped a card that never started): redraw from here.
        this._stepViews.splice(i).forEach(v => v.node.remove());
        view = undefined;
      }
      if (!view) {
        view = newStepView(step, this._onApprove);
        this._stepViews.push(view);
        this._steps.append(view.node);
        changed = true;
      }
      if (view.kind === 'reasoning' && step.kind === 'reasoning') {
        if (view.step !== step) {
          view.step = step;
          streamText(view.node, step.text);
          changed = true;
        }
      } else if (view.kind === 'note' && step.kind === 'note') {
        if (view.step !== step) {
          // A note is whole when it appears (the remark ended): italic, as the Python faces show it.
          view.step = step;
          view.node.replaceChildren(h('em', { text: step.text }));
          changed = true;
        }
      } else if (view.kind === 'tool' && step.kind === 'tool') {
        view.view.update(step, pending.has(step.id) && step.status === 'pending');
        changed = true;
      }
    });
    for (const extra of this._stepViews.splice(turn.steps.length)) {
      extra.node.remove();
      changed = true;
    }
    if (changed && this._details.open) {
      this._steps.scrollTop = this._steps.scrollHeight;
    }
  }

  private _summaryText(turn: Turn): string {
    const tools = turn.steps.filter(s => s.kind === 'tool').length;
    const parts = ['Reasoning'];
    if (tools) {
      parts.push(`${tools} tool call${tools > 1 ? 's' : ''}`);
    }
    if (turn.usage?.reasoning) {
      parts.push(`${formatCount(turn.usage.reasoning)} tokens`);
    }
    return parts.join(' · ');
  }

  private _footerText(turn: Turn): string {
    const parts: string[] = [];
    if (turn.usage) {
      parts.push(`${formatCount(turn.usage.prompt)} in · ${formatCount(turn.usage.completion)} out`);
    }
    const cost = formatCost(turn.cost);
    if (cost) {
      parts.push(cost);
    }
    if (turn.elapsed !== null) {
      parts.push(formatSeconds(turn.elapsed));
    }
    if (turn.model) {
      parts.push(turn.provider ? `${turn.provider}/${turn.model}` : turn.model);
    }
    if (turn.finishReason === 'cancelled') {
      parts.push(STOPPED_MARK);
    } else if (turn.finishReason && turn.finishReason !== 'stop') {
      parts.push(turn.finishReason);
    }
    return parts.join(' · ');
  }

  private _turn: Turn | null = null;
  private readonly _onApprove: ApproveHandler;
  private readonly _answer: AnswerView;
  private readonly _live = new LiveStatus();
  private readonly _stepViews: StepView[] = [];
  private readonly _prompt = h('div', { className: 'kimi-prompt' });
  private readonly _statuses = h('div', { className: 'kimi-statuses' });
  private readonly _summary = h('summary', { className: 'kimi-reasoning-summary' });
  private readonly _steps = h('div', { className: 'kimi-steps' });
  private readonly _details: HTMLDetailsElement;
  private readonly _columns: HTMLDivElement;
  private readonly _error = h('div', { className: 'kimi-error' });
  private readonly _footer = h('div', { className: 'kimi-turn-footer' });
}

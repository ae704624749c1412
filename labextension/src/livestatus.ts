/**
 * The live line of a turn in progress, as a `%%kimi` cell shows it: "Thinking… 3.8 s · 1 tool
 * call", then "Answering… 6.1 s · 1 tool call" once answer text arrives. The seconds tick a few
 * times a second from the turn's start, and the line goes when the turn ends.
 */

import { h, plural, setText } from './dom';
import type { Turn } from './reducer';

/** Ticks per second at most: enough for tenths to look alive, cheap for the main thread. */
export const TICK_MS = 250;

/** The live line for `turn` after `elapsed` seconds. */
export function liveStatusText(turn: Turn, elapsed: number): string {
  const tools = turn.steps.filter(s => s.kind === 'tool').length;
  const phase = turn.approvals.length > 0 ? 'Waiting for approval…' : turn.answer ? 'Answering…' : 'Thinking…';
  const parts = [`${phase} ${Math.max(0, elapsed).toFixed(1)} s`];
  if (tools) {
    parts.push(plural(tools, 'tool call'));
  }
  return parts.join(' · ');
}

export class LiveStatus {
  /** `now`: the clock in epoch ms (tests). */
  constructor(private readonly now: () => number = Date.now) {
    this.node.hidden = true;
  }

  readonly node = h('div', { className: 'kimi-live-status', attrs: { role: 'status' } });

  update(turn: Turn): void {
    this._turn = turn;
    if (turn.done) {
      this._stop();
      this.node.hidden = true;
      return;
    }
    // A turn restored while running (a reload) has no start time: count from when it was seen.
    this._start ??= turn.startedAt ?? this.now();
    this.node.hidden = false;
    this._render();
    this._timer ||= window.setInterval(() => this._render(), TICK_MS);
  }

  dispose(): void {
    this._stop();
  }

  private _render(): void {
    if (this._turn && this._start !== null) {
      setText(this.node, liveStatusText(this._turn, (this.now() - this._start) / 1000));
    }
  }

  private _stop(): void {
    if (this._timer) {
      window.clearInterval(this._timer);
      this._timer = 0;
    }
  }

  private _turn: Turn | null = null;
  private _start: number | null = null;
  private _timer = 0;
}

// @vitest-environment happy-dom
/** The live "Thinking… 3.8 s · 1 tool call" line of a running turn. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { LiveStatus, TICK_MS, liveStatusText } from '../src/livestatus';
import { newTurn, type Step, type Turn } from '../src/reducer';
import { TurnView } from '../src/turn';
import { fakeRendermime } from './harness';

const tool = (id: string): Step => ({
  kind: 'tool', id, index: null, name: 'evaluate', arguments: '{}', status: 'ok', preview: '', duration: 0.1,
  error: null, shown: null, warning: null
});

function running(fields: Partial<Turn> = {}): Turn {
  return { ...newTurn('Which region sells most?', 'r1', 1_000), ...fields };
}

describe('liveStatusText', () => {
  it('says what the turn is doing, for how long, and its tool calls so far (as a %%kimi cell does)', () => {
    expect(liveStatusText(running(), 3.84)).toBe('Thinking… 3.8 s');
    expect(liveStatusText(running({ steps: [{ kind: 'reasoning', text: 'hm' }, tool('a')] }), 3.8)).toBe('Thinking… 3.8 s · 1 tool call');
    expect(liveStatusText(running({ steps: [tool('a'), tool('b')], answer: 'North' }), 6.15)).toBe('Answering… 6.2 s · 2 tool calls');
    expect(liveStatusText(running({ approvals: [{ callId: 'a', name: 'run_python', arguments: '' }] }), 1)).toBe(
      'Waiting for approval… 1.0 s'
    );
  });
});

describe('LiveStatus', () => {
  let now = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1_000;
  });
  afterEach(() => vi.useRealTimers());

  it('ticks a few times a second from the turn start, and stops and hides when the turn ends', () => {
    const status = new LiveStatus(() => now);
    status.update(running());
    expect(status.node.hidden).toBe(false);
    expect(status.node.textContent).toBe('Thinking… 0.0 s');
    now += 1_250;
    vi.advanceTimersByTime(TICK_MS);
    expect(status.node.textContent).toBe('Thinking… 1.3 s');
    expect(TICK_MS).toBeGreaterThanOrEqual(250); // at most ~4 updates a second
    status.update(running({ answer: 'North', steps: [tool('a')] }));
    expect(status.node.textContent).toBe('Answering… 1.3 s · 1 tool call');
    status.update(running({ done: true }));
    expect(status.node.hidden).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a turn restored while running counts from when it is first seen', () => {
    now = 50_000;
    const status = new LiveStatus(() => now);
    status.update({ ...newTurn('q', null), startedAt: null });
    now += 2_000;
    vi.advanceTimersByTime(TICK_MS);
    expect(status.node.textContent).toBe('Thinking… 2.0 s');
    status.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('TurnView', () => {
  afterEach(() => vi.useRealTimers());

  it('shows the live line while running, not the old bare "Thinking…" answer', () => {
    vi.useFakeTimers();
    const view = new TurnView(fakeRendermime(), () => true, () => undefined);
    view.update(running({ startedAt: Date.now() }));
    const live = view.node.querySelector('.kimi-live-status') as HTMLElement;
    expect(live.hidden).toBe(false);
    expect(live.textContent).toMatch(/^Thinking… \d+\.\d s$/);
    expect(view.node.querySelector('.kimi-answer')?.textContent).toBe('');
    view.update(running({ answer: 'North.', done: true, streamDone: true }));
    expect(live.hidden).toBe(true);
    view.dispose();
  });

  it('a stopped turn says "⏹ stopped", as the chat panel does', () => {
    const view = new TurnView(fakeRendermime(), () => true, () => undefined);
    view.update(running({ answer: 'part', done: true, finishReason: 'cancelled', elapsed: 2 }));
    const footer = view.node.querySelector('.kimi-turn-footer')?.textContent ?? '';
    expect(footer).toContain('⏹ stopped');
    expect(footer).not.toContain('cancelled');
    view.update(running({ answer: 'long', done: true, finishReason: 'length' }));
    expect(view.node.querySelector('.kimi-turn-footer')?.textContent).toContain('length');
    view.dispose();
  });
});

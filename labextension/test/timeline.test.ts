// @vitest-environment happy-dom
/**
 * The reducer's timeline against the event streams kimi_lab/core/timeline.py folds too
 * (tests/fixtures/timelines.json, run by tests/test_timeline.py): the sidebar and the Python
 * faces cannot tell a turn differently again. Then what the fixture cannot show: what the
 * `result` keeps of the streamed timeline, and how the turn view draws notes and cut-off calls.
 */
import { describe, expect, it } from 'vitest';

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { AskResult, StreamEvent } from '../src/protocol';
import { initialState, reduce, type Action, type ChatState, type ToolCard, type Turn } from '../src/reducer';
import { TurnView } from '../src/turn';
import { fakeRendermime } from './harness';
import { approval, askResult, errorEvent, toolCall, withoutFields } from './messages';

interface Case {
  name: string;
  events: StreamEvent[];
  expected: unknown;
}

// labextension/test/ → the repository's tests/fixtures/. A path, not `new URL(…, import.meta.url)`:
// under happy-dom vite rewrites that into an http URL, which readFileSync refuses.
const here = dirname(fileURLToPath(import.meta.url));
const cases = JSON.parse(readFileSync(resolve(here, '../../tests/fixtures/timelines.json'), 'utf8')) as Case[];

const RID = 'r1';

function run(actions: Action[], state: ChatState = initialState('nb')): ChatState {
  return actions.reduce(reduce, state);
}

const ask: Action = { type: 'local/ask', request_id: RID, prompt: 'q' };
const events = (list: StreamEvent[]): Action => ({ type: 'events', request_id: RID, events: list });
const finish = (result: AskResult): Action => ({ type: 'result', request_id: RID, result });
const done = (fields: Partial<AskResult>): Action => finish(askResult({ prompt: 'q', chat: 'nb', ...fields }));

/** A turn in the form of Python's `Timeline.normal_form()`. */
function normalForm(turn: Turn): unknown {
  return {
    steps: turn.steps.map(s =>
      s.kind === 'tool'
        ? { kind: 'tool', id: s.id, name: s.name, arguments: s.arguments, status: s.status, preview: s.preview, duration: s.duration ?? 0 }
        : { kind: s.kind, text: s.text }
    ),
    answer: turn.answer,
    usage: {
      prompt: turn.usage?.prompt ?? 0,
      completion: turn.usage?.completion ?? 0,
      cached: turn.usage?.cached ?? 0,
      reasoning: turn.usage?.reasoning ?? 0
    },
    upstream: turn.upstream,
    statuses: turn.statuses.map(s => ({ message: s.message, level: s.level })),
    error: turn.error,
    finish_reason: turn.finishReason
  };
}

const caseNamed = (start: string): Case => {
  const found = cases.find(c => c.name.startsWith(start));
  if (!found) {
    throw new Error(`no fixture case "${start}…"`);
  }
  return found;
};

describe('the shared fixture', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(10);
  });

  it.each(cases.map(c => [c.name, c] as const))('%s', (_name, c) => {
    // As one `events` batch, and split one event a message: the kernel batches as it likes.
    const batched = run([ask, events(c.events)]);
    expect(normalForm(batched.turns[0])).toEqual(c.expected);
    const split = run([ask, ...c.events.map(e => events([e]))]);
    expect(normalForm(split.turns[0])).toEqual(c.expected);
  });
});

describe('the result', () => {
  it('keeps the remark between tool rounds as a note: the answer is only the last round', () => {
    const c = caseNamed('a remark between two tool rounds');
    const streamed = run([ask, events(c.events)]);
    expect(streamed.turns[0].answer).toBe('East leads: the total is 4210.5.');
    const s = run(
      [done({ content: 'East leads: the total is 4210.5.', tool_calls: [toolCall({ id: 'call_1', name: 'evaluate', arguments: { expr: 'df.amount.sum()' }, duration: 0.02 })] })],
      streamed
    );
    const turn = s.turns[0];
    expect(turn.steps.map(x => x.kind)).toEqual(['reasoning', 'note', 'tool', 'reasoning']);
    expect(turn.steps[1]).toEqual({ kind: 'note', text: 'Let me look at the data.' });
    expect(turn.answer).toBe('East leads: the total is 4210.5.');
    expect(turn.steps[2]).toMatchObject({ id: 'call_1', status: 'ok', duration: 0.02 });
  });

  it('fills each call into the card with its id, even when two cards share a name', () => {
    const s = run([
      ask,
      events([
        { type: 'tool_start', id: 'p1', name: 'run_python', arguments: '{"code": "a"}' },
        { type: 'tool_start', id: 'p2', name: 'run_python', arguments: '{"code": "b"}' }
      ]),
      // The result lists them in another order: matching by name and place would swap them.
      done({
        content: 'ok',
        tool_calls: [
          { id: 'p2', name: 'run_python', arguments: { code: 'b' }, error: 'NameError: b', duration: 0.5 },
          { id: 'p1', name: 'run_python', arguments: { code: 'a' }, error: null, duration: 0.1 }
        ]
      })
    ]);
    const cards = s.turns[0].steps as ToolCard[];
    expect(cards.map(c => [c.id, c.status, c.duration, c.error])).toEqual([
      ['p1', 'ok', 0.1, null],
      ['p2', 'error', 0.5, 'NameError: b']
    ]);
  });

  it('drops cards that never started and marks started ones with no call interrupted', () => {
    const c = caseNamed('while the first of two calls runs');
    const s = run([ask, events(c.events), done({ content: '', finish_reason: 'cancelled' })]);
    const cards = s.turns[0].steps as ToolCard[];
    expect(cards.map(x => [x.name, x.status])).toEqual([['list_variables', 'interrupted']]);
  });

  it('a call waiting for approval when the turn ends was interrupted too', () => {
    const s = run([
      ask,
      events([{ type: 'tool_start', id: 'w', name: 'write_file', arguments: '{}' }]),
      approval({ request_id: RID, call_id: 'w', name: 'write_file', arguments: {} }),
      done({ content: '', finish_reason: 'cancelled' })
    ]);
    expect(s.turns[0].steps[0]).toMatchObject({ id: 'w', status: 'interrupted' });
    expect(s.turns[0].approvals).toEqual([]);
  });

  it('a remark whose calls never started is the answer after all', () => {
    const s = run([
      ask,
      events([
        { type: 'content', text: 'I will check df.' },
        { type: 'tool_call_delta', index: 0, id: 'c1', name: 'evaluate', arguments: '{"ex' },
        errorEvent('connection reset')
      ])
    ]);
    expect(s.turns[0].steps).toEqual([{ kind: 'note', text: 'I will check df.' }, expect.objectContaining({ status: 'preparing' })]);
    const ended = run([done({ content: 'I will check df.', finish_reason: 'error' })], s);
    expect(ended.turns[0].steps).toEqual([]);
    expect(ended.turns[0].answer).toBe('I will check df.');
  });

  it('keeps the summed usage of the rounds when the result has none', () => {
    const c = caseNamed('usage adds up');
    // A result without `usage` (the kernel always sends one): the frontend's own guard.
    const s = run([ask, events(c.events), finish(withoutFields(askResult({ content: 'x' }), 'usage'))]);
    expect(s.turns[0].usage).toEqual((c.expected as { usage: unknown }).usage);
  });
});

describe('the turn view', () => {
  it('shows the remark as an italic note in the timeline, not in the answer', () => {
    const c = caseNamed('a remark between two tool rounds');
    const s = run([ask, events(c.events), done({ content: 'East leads: the total is 4210.5.', tool_calls: [toolCall({ id: 'call_1', name: 'evaluate', arguments: {}, duration: 0.02 })] })]);
    const view = new TurnView(fakeRendermime(), () => true, () => undefined);
    view.update(s.turns[0]);
    const steps = view.node.querySelector('.kimi-steps') as HTMLElement;
    const note = steps.querySelector('.kimi-note em');
    expect(note?.textContent).toBe('Let me look at the data.');
    // In order: reasoning, the note, the card, reasoning.
    expect([...steps.children].map(n => n.className)).toEqual([
      'kimi-reasoning-text',
      'kimi-reasoning-text kimi-note',
      'kimi-tool',
      'kimi-reasoning-text'
    ]);
    expect(view.node.querySelector('.kimi-answer')?.textContent).not.toContain('Let me look');
    view.dispose();
  });

  it('says a cut-off call was interrupted', () => {
    const s = run([ask, events([{ type: 'tool_start', id: 'c1', name: 'run_python', arguments: '{"code": "1"}' }]), done({ finish_reason: 'cancelled' })]);
    const view = new TurnView(fakeRendermime(), () => true, () => undefined);
    view.update(s.turns[0]);
    const card = view.node.querySelector('.kimi-tool') as HTMLElement;
    expect(card.dataset.status).toBe('interrupted');
    expect(card.querySelector('.kimi-tool-status')?.textContent).toBe('interrupted');
    view.dispose();
  });

  it('drops the view of a card that never started when the result comes', () => {
    const c = caseNamed('while the first of two calls runs');
    const s = run([ask, events(c.events)]);
    const view = new TurnView(fakeRendermime(), () => true, () => undefined);
    view.update(s.turns[0]);
    expect(view.node.querySelectorAll('.kimi-tool')).toHaveLength(2);
    view.update(run([done({ finish_reason: 'cancelled' })], s).turns[0]);
    const cards = [...view.node.querySelectorAll('.kimi-tool')] as HTMLElement[];
    expect(cards.map(n => n.dataset.status)).toEqual(['interrupted']);
    view.dispose();
  });
});

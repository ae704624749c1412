import { describe, expect, it } from 'vitest';

import type { AskResult, KernelMessage, StreamEvent } from '../src/protocol';
import {
  chatNameForPath,
  initialState,
  reduce,
  runningRequest,
  totals,
  type Action,
  type ChatState,
  type ToolCard
} from '../src/reducer';
import {
  approval,
  askResult,
  historyReply,
  providersReply,
  reasoningEvent,
  toolCall,
  toolCallDelta,
  toolEnd,
  usageEvent,
  withoutFields
} from './messages';

const RID = 'r1';

function run(actions: Action[], state: ChatState = initialState('nb')): ChatState {
  return actions.reduce(reduce, state);
}

/** One event as the kernel sends it: an `events` batch (there is no singular `event` message). */
const ev = (event: StreamEvent, request_id = RID): KernelMessage => ({ type: 'events', request_id, events: [event] });
const evs = (events: StreamEvent[], request_id = RID): KernelMessage => ({ type: 'events', request_id, events });
const ask = (prompt: string, request_id = RID): Action => ({ type: 'local/ask', request_id, prompt });

/** A `result`'s answer with the usage, cost and timings the tests below sum and check. */
function result(fields: Partial<AskResult> = {}): AskResult {
  return askResult({
    usage: { prompt: 10, completion: 20, cached: 0, reasoning: 5 },
    cost: 0.001,
    elapsed: 1.5,
    ttft: 0.2,
    chat: 'nb',
    ...fields
  });
}

describe('deltas', () => {
  it('append reasoning and content to the turn', () => {
    const s = run([
      ask('hi'),
      ev(reasoningEvent('Let me ')),
      ev(reasoningEvent('think.')),
      evs([
        { type: 'content', text: 'Hello' },
        { type: 'content', text: ', world' }
      ])
    ]);
    expect(s.turns).toHaveLength(1);
    const turn = s.turns[0];
    expect(turn.prompt).toBe('hi');
    expect(turn.steps).toEqual([{ kind: 'reasoning', text: 'Let me think.' }]);
    expect(turn.answer).toBe('Hello, world');
    expect(turn.done).toBe(false);
    expect(runningRequest(s)).toBe(RID);
  });

  it('is pure: the previous state is untouched and unchanged turns are shared', () => {
    const s1 = run([ask('a', 'r0'), { type: 'result', request_id: 'r0', result: result({ content: 'A' }) }, ask('b')]);
    const frozen = JSON.stringify(s1);
    const s2 = reduce(s1, ev({ type: 'content', text: 'x' }));
    expect(JSON.stringify(s1)).toBe(frozen);
    expect(s2).not.toBe(s1);
    expect(s2.turns[0]).toBe(s1.turns[0]);
    expect(s2.turns[1].answer).toBe('x');
  });

  it('keeps usage, status lines and the done flag', () => {
    const s = run([
      ask('q'),
      ev({ type: 'status', message: 'retrying', level: 'warning' }),
      ev(usageEvent({ prompt: 1, completion: 2, cached: 0, reasoning: 1 })),
      ev({ type: 'done', finish_reason: 'stop' })
    ]);
    const turn = s.turns[0];
    expect(turn.statuses).toEqual([{ message: 'retrying', level: 'warning' }]);
    expect(turn.usage?.completion).toBe(2);
    expect(turn.streamDone).toBe(true);
    expect(turn.finishReason).toBe('stop');
    expect(turn.done).toBe(false);
  });

  it('routes events by request id and adopts unknown ids', () => {
    const s = run([ask('one', 'a'), ask('two', 'b'), ev({ type: 'content', text: 'A' }, 'a'), ev({ type: 'content', text: 'B' }, 'b'), ev({ type: 'content', text: '?' }, 'zzz')]);
    expect(s.turns.map(t => t.answer)).toEqual(['A', 'B', '?']);
    expect(s.turns[2].prompt).toBe('');
  });
});

describe('tool cards', () => {
  it('sit in order between reasoning segments', () => {
    const s = run([
      ask('q'),
      ev(reasoningEvent('first')),
      ev(toolCallDelta({ index: 0, id: 'c1', name: 'run_code', arguments: '{"code":' })),
      ev(toolCallDelta({ index: 0, arguments: '"1+1"}' })),
      ev({ type: 'tool_start', id: 'c1', name: 'run_code', arguments: '{"code":"1+1"}' }),
      ev(toolEnd({ id: 'c1', name: 'run_code', status: 'ok', preview: '2', duration: 0.05 })),
      ev(reasoningEvent('second')),
      ev({ type: 'tool_start', id: 'c2', name: 'read_var', arguments: '{"name":"df"}' }),
      ev(reasoningEvent('third'))
    ]);
    const steps = s.turns[0].steps;
    expect(steps.map(x => x.kind)).toEqual(['reasoning', 'tool', 'reasoning', 'tool', 'reasoning']);
    const c1 = steps[1] as ToolCard;
    expect(c1).toMatchObject({ id: 'c1', name: 'run_code', arguments: '{"code":"1+1"}', status: 'ok', preview: '2', duration: 0.05 });
    const c2 = steps[3] as ToolCard;
    expect(c2).toMatchObject({ id: 'c2', name: 'read_var', status: 'running' });
    expect(steps[4]).toEqual({ kind: 'reasoning', text: 'third' });
  });

  it('accumulates a tool call still being streamed as a preparing card', () => {
    const s = run([
      ask('q'),
      ev(toolCallDelta({ index: 0, id: 'ca', name: 'a', arguments: '{' })),
      ev(toolCallDelta({ index: 1, id: 'cb', name: 'b', arguments: '[' })),
      ev(toolCallDelta({ index: 0, arguments: '}' }))
    ]);
    const cards = s.turns[0].steps as ToolCard[];
    expect(cards.map(c => [c.name, c.arguments, c.status])).toEqual([
      ['a', '{}', 'preparing'],
      ['b', '[', 'preparing']
    ]);
    const s2 = run([ev({ type: 'tool_start', id: 'cb', name: 'b', arguments: '[]' })], s);
    expect((s2.turns[0].steps as ToolCard[]).map(c => [c.name, c.status])).toEqual([
      ['a', 'preparing'],
      ['b', 'running']
    ]);
  });

  it('shows a tool_end without a start as a finished card', () => {
    const s = run([ask('q'), ev(toolEnd({ id: 'z', name: 'f', status: 'timeout', duration: 30 }))]);
    expect(s.turns[0].steps[0]).toMatchObject({ kind: 'tool', name: 'f', status: 'timeout', duration: 30 });
  });
});

describe('approvals', () => {
  const started: Action[] = [
    ask('q'),
    ev({ type: 'tool_start', id: 'c1', name: 'write_file', arguments: '{"path":"x"}' }),
    approval({ request_id: RID, call_id: 'c1', name: 'write_file', arguments: { path: 'x' } })
  ];

  it('appear as pending and mark the card', () => {
    const s = run(started);
    expect(s.turns[0].approvals).toEqual([{ callId: 'c1', name: 'write_file', arguments: '{"path":"x"}' }]);
    expect((s.turns[0].steps[0] as ToolCard).status).toBe('pending');
  });

  it('clear when answered locally', () => {
    const s = run([...started, { type: 'local/approve', request_id: RID, call_id: 'c1' }]);
    expect(s.turns[0].approvals).toEqual([]);
    expect((s.turns[0].steps[0] as ToolCard).status).toBe('running');
  });

  it('clear when the tool ends (e.g. denied) or the result arrives', () => {
    const s = run([...started, ev(toolEnd({ id: 'c1', name: 'write_file', status: 'denied' }))]);
    expect(s.turns[0].approvals).toEqual([]);
    expect((s.turns[0].steps[0] as ToolCard).status).toBe('denied');
    const s2 = run([...started, { type: 'result', request_id: RID, result: result({ content: 'ok' }) }]);
    expect(s2.turns[0].approvals).toEqual([]);
  });

  it('create a card when the approval comes first', () => {
    const s = run([ask('q'), approval({ request_id: RID, call_id: 'c9', name: 'rm', arguments: {} })]);
    expect(s.turns[0].steps[0]).toMatchObject({ kind: 'tool', id: 'c9', name: 'rm', status: 'pending' });
  });

  const spoof = "reviews.describe()\ropen('x', 'w').write('y') \u202e\u200b\x1b[2K";
  const display = "1 │ reviews.describe()␍\n2 │ open('x', 'w').write('y') <U+202E><U+200B>␛[2K";
  const warning = '⚠ 4 hidden characters, shown marked: …';

  it("put the kernel's display text on the card, not the streamed raw arguments, and keep it", () => {
    const s = run([
      ask('q'),
      ev({ type: 'tool_start', id: 'c1', name: 'run_python', arguments: JSON.stringify({ code: spoof }) }),
      { type: 'approval', request_id: RID, call_id: 'c1', name: 'run_python', arguments: { code: spoof }, display, warning }
    ]);
    expect(s.turns[0].steps[0]).toMatchObject({ status: 'pending', shown: display, warning });
    const answered = run([{ type: 'local/approve', request_id: RID, call_id: 'c1' }], s);
    expect(answered.turns[0].steps[0]).toMatchObject({ status: 'running', shown: display, warning });
    const ended = run([ev(toolEnd({ id: 'c1', name: 'run_python', status: 'ok', duration: 0.1 }))], answered);
    expect(ended.turns[0].steps[0]).toMatchObject({ status: 'ok', shown: display });
    const done = run([{ type: 'result', request_id: RID, result: result({ content: 'ok' }) }], ended);
    expect(done.turns[0].steps[0]).toMatchObject({ shown: display });
  });

  it('without a display from the kernel, show the arguments with everything but printable ASCII escaped', () => {
    const s = run([
      ask('q'),
      // An approval without `display` (the kernel always sends one): the frontend's own guard.
      withoutFields(approval({ request_id: RID, call_id: 'c1', name: 'run_python', arguments: { code: spoof, note: 'café' } }), 'display')
    ]);
    const card = s.turns[0].steps[0] as ToolCard;
    expect(card.shown).not.toBeNull();
    expect(card.shown).toMatch(/^[\x20-\x7e\n]*$/);
    expect(card.shown).toContain(String.raw`\r`); // JSON's escape
    expect(card.shown).toContain(String.raw`\u202e\u200b\u001b[2K`);
    expect(card.shown).toContain(String.raw`caf\u00e9`);
    expect(card.warning).toBeNull();
  });
});

describe('result', () => {
  it('replaces the streamed text with the final values', () => {
    const s = run([
      ask('q'),
      ev(reasoningEvent('partial reas')),
      ev({ type: 'content', text: 'partial ans' }),
      { type: 'result', request_id: RID, result: result({ content: 'Final answer', reasoning: 'full reasoning', markdown: '**Final answer**' }) }
    ]);
    const turn = s.turns[0];
    expect(turn.answer).toBe('Final answer');
    expect(turn.markdown).toBe('**Final answer**');
    expect(turn.steps).toEqual([{ kind: 'reasoning', text: 'full reasoning' }]);
    expect(turn.done).toBe(true);
    expect(turn.cost).toBe(0.001);
    expect(turn.usage).toEqual({ prompt: 10, completion: 20, cached: 0, reasoning: 5 });
    expect(turn.model).toBe('kimi-k2-thinking');
    expect(runningRequest(s)).toBeNull();
  });

  it('keeps interleaved reasoning segments and fills tool durations', () => {
    const s = run([
      ask('q'),
      ev(reasoningEvent('a')),
      ev({ type: 'tool_start', id: 'c1', name: 'f', arguments: '{}' }),
      ev(reasoningEvent('b')),
      { type: 'result', request_id: RID, result: result({ content: 'done', reasoning: 'ab', tool_calls: [{ id: 'c1', name: 'f', arguments: {}, error: null, duration: 0.3 }] }) }
    ]);
    const steps = s.turns[0].steps;
    expect(steps.map(x => x.kind)).toEqual(['reasoning', 'tool', 'reasoning']);
    expect(steps[1]).toMatchObject({ status: 'ok', duration: 0.3 });
  });

  it('sums usage and cost over turns', () => {
    const s = run([
      ask('a', 'r0'),
      { type: 'result', request_id: 'r0', result: result() },
      ask('b', 'r1'),
      { type: 'result', request_id: 'r1', result: result({ cost: 0.002 }) }
    ]);
    const t = totals(s);
    expect(t.prompt).toBe(20);
    expect(t.completion).toBe(40);
    expect(t.cost).toBeCloseTo(0.003);
  });
});

describe('history', () => {
  it('rebuilds turns from events and results', () => {
    const s = run([
      historyReply({
        request_id: 'h',
        chat: 'nb',
        turns: [
          {
            prompt: 'first',
            events: [
              reasoningEvent('r'),
              { type: 'tool_start', id: 't', name: 'f', arguments: '{}' },
              { type: 'tool_end', id: 't', name: 'f', status: 'ok', preview: 'p', duration: 1 },
              { type: 'content', text: 'streamed' }
            ],
            result: result({ content: 'one', reasoning: 'r' })
          },
          { prompt: 'second', events: [], result: result({ content: 'two', reasoning: 'why', tool_calls: [toolCall({ id: 'g1', name: 'g', arguments: { a: 1 }, duration: 2 })] }) },
          { prompt: 'third', events: [{ type: 'content', text: 'par' }], result: null }
        ]
      })
    ]);
    expect(s.turns.map(t => [t.prompt, t.answer, t.done])).toEqual([
      ['first', 'one', true],
      ['second', 'two', true],
      ['third', 'par', false]
    ]);
    expect(s.turns[0].steps.map(x => x.kind)).toEqual(['reasoning', 'tool']);
    expect(s.turns[1].steps).toEqual([
      { kind: 'reasoning', text: 'why' },
      expect.objectContaining({ kind: 'tool', id: 'g1', name: 'g', arguments: '{"a":1}', status: 'ok', duration: 2 })
    ]);
    // The unfinished turn is adopted by the running ask's next events.
    const s2 = reduce(s, ev({ type: 'content', text: 'tial' }, 'live'));
    expect(s2.turns).toHaveLength(3);
    expect(s2.turns[2].answer).toBe('partial');
    expect(s2.turns[2].requestId).toBe('live');
  });

  it('ignores another chat and replaces this one', () => {
    const s = run([ask('old'), { type: 'result', request_id: RID, result: result({ content: 'x' }) }]);
    const other = reduce(s, historyReply({ request_id: 'h', chat: 'elsewhere', turns: [] }));
    expect(other).toBe(s);
    const same = reduce(s, historyReply({ request_id: 'h', chat: 'nb', turns: [] }));
    expect(same.turns).toEqual([]);
  });

  it('keeps an ask still running in this view', () => {
    const s = run([ask('live q', 'L'), ev({ type: 'content', text: 'abc' }, 'L')]);
    const h = reduce(s, historyReply({ request_id: 'h', chat: 'nb', turns: [{ prompt: 'live q', events: [{ type: 'content', text: 'ab' }], result: null }] }));
    expect(h.turns).toHaveLength(1);
    expect(h.turns[0].requestId).toBe('L');
    const h2 = reduce(s, historyReply({ request_id: 'h', chat: 'nb', turns: [] }));
    expect(h2.turns.map(t => t.requestId)).toEqual(['L']);
  });
});

describe('errors', () => {
  it('an error event marks the turn; the result still finishes it', () => {
    const s = run([
      ask('q'),
      ev({ type: 'content', text: 'part' }),
      ev({ type: 'error', message: 'rate limited', kind: 'rate_limit' }),
      { type: 'result', request_id: RID, result: result({ content: 'part', finish_reason: 'error' }) }
    ]);
    expect(s.turns[0]).toMatchObject({ error: 'rate limited', done: true, answer: 'part', finishReason: 'error' });
  });

  it('a request error ends its turn, or goes to the chat when not tied to one', () => {
    const s = run([ask('q'), { type: 'error', request_id: RID, message: 'No API key: set MOONSHOT_API_KEY' }]);
    expect(s.turns[0]).toMatchObject({ error: 'No API key: set MOONSHOT_API_KEY', done: true });
    const s2 = reduce(s, { type: 'error', request_id: 'hist', message: 'unknown chat' });
    expect(s2.error).toBe('unknown chat');
    expect(reduce(s2, { type: 'local/clear-error' }).error).toBeNull();
    const s3 = reduce(s2, { type: 'local/fail', request_id: 'nope', message: 'comm closed' });
    expect(s3.error).toBe('comm closed');
  });

  it('ignores messages it does not know', () => {
    const s = run([ask('q')]);
    expect(reduce(s, providersReply({ request_id: 'p', providers: [] }))).toBe(s);
    expect(reduce(s, ev({ type: 'mystery' } as unknown as StreamEvent))).toBe(s);
  });
});

describe('performance', () => {
  it('reduces a 20,000-delta stream in well under a second', () => {
    let s = run([ask('long')]);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      s = reduce(s, ev(reasoningEvent('tok ')));
    }
    for (let i = 0; i < 10_000; i++) {
      s = reduce(s, ev({ type: 'content', text: 'word ' }));
    }
    const elapsed = performance.now() - t0;
    expect(s.turns[0].answer.length).toBe(50_000);
    expect((s.turns[0].steps[0] as { text: string }).text.length).toBe(40_000);
    expect(elapsed).toBeLessThan(500);
  });
});

describe('helpers', () => {
  it('derive the chat name from the notebook path', () => {
    expect(chatNameForPath('work/Analysis.ipynb')).toBe('work/Analysis');
    expect(chatNameForPath('/a.ipynb')).toBe('a');
    expect(chatNameForPath('')).toBe('default');
  });
});

/**
 * The pure reducer: kernel messages (and a few local actions) → the chat's view state.
 *
 * All the logic of the live view lives here so the DOM components stay thin. The reducer
 * never mutates its input: a new state shares every unchanged turn and step with the old one,
 * so views can skip work by comparing references.
 *
 * `applyEvent` is a port of kimi_lab/core/timeline.py (its docstring states the rules): both fold
 * the event streams of tests/fixtures/timelines.json (test/timeline.test.ts here), so the
 * sidebar and the Python faces tell a turn the same way.
 */

import type {
  ApprovalMessage,
  AskResult,
  ErrorReply,
  HistoryReply,
  KernelMessage,
  ResultMessage,
  ResultToolCall,
  StreamEvent,
  TokenUsage
} from './protocol';
import { prettyArguments } from './dom';

// ---------------------------------------------------------------------------------------
// View state.

export interface ReasoningStep {
  kind: 'reasoning';
  text: string;
}

/** The model's remark between tool rounds (answer text streamed before a tool call). */
export interface NoteStep {
  kind: 'note';
  text: string;
}

export type ToolCardStatus = 'preparing' | 'running' | 'pending' | 'ok' | 'error' | 'denied' | 'timeout' | 'interrupted';

export interface ToolCard {
  kind: 'tool';
  /** The tool call id (`tool_start.id`), or `''` while only deltas have arrived. */
  id: string;
  /** The `tool_call_delta.index` a preparing card accumulates. */
  index: number | null;
  name: string;
  arguments: string;
  status: ToolCardStatus | string;
  preview: string;
  duration: number | null;
  error: string | null;
  /** What the approval showed (the kernel's `display`), kept once the call is answered. */
  shown: string | null;
  /** The approval's warning about hidden characters, or null. */
  warning: string | null;
}

export type Step = ReasoningStep | NoteStep | ToolCard;

export interface PendingApproval {
  callId: string;
  name: string;
  arguments: string;
}

export interface StatusLine {
  message: string;
  level: string;
}

export interface Turn {
  /** The `ask` request id, or null for a turn restored from history. */
  requestId: string | null;
  prompt: string;
  /** Reasoning segments, notes and tool cards, in order. */
  steps: Step[];
  /** The answer text since the last tool call: streamed deltas, replaced by `result.content`. */
  answer: string;
  /** `result.markdown` once the result is in. */
  markdown: string | null;
  approvals: PendingApproval[];
  statuses: StatusLine[];
  /** Summed over the rounds' `usage` events, replaced by the result's; null before any. */
  usage: TokenUsage | null;
  /** The host behind a router that answered (the last round that said), or ''. */
  upstream: string;
  cost: number | null;
  model: string;
  provider: string;
  finishReason: string | null;
  elapsed: number | null;
  ttft: number | null;
  error: string | null;
  /** The stream said `done`. */
  streamDone: boolean;
  /** The `result` (or a request error) arrived: nothing more comes for this turn. */
  done: boolean;
  /** When this view asked it (epoch ms), for the live "Thinking… 3.8 s"; null when restored. */
  startedAt: number | null;
}

export interface ChatState {
  chat: string;
  turns: Turn[];
  /** A request error not tied to a turn (e.g. `history` failed). */
  error: string | null;
  /** Turns the kernel last reopened from the transcripts file for this view (0: none). */
  restored: number;
}

/** Local actions the panel dispatches alongside kernel messages. */
export interface LocalAskAction {
  type: 'local/ask';
  request_id: string;
  prompt: string;
  /** When it was asked (epoch ms); the reducer stays pure, the store reads the clock. */
  at?: number;
}

export interface LocalApproveAction {
  type: 'local/approve';
  request_id: string;
  call_id: string;
}

export interface LocalFailAction {
  type: 'local/fail';
  request_id: string;
  message: string;
}

export interface LocalClearErrorAction {
  type: 'local/clear-error';
}

export type LocalAction = LocalAskAction | LocalApproveAction | LocalFailAction | LocalClearErrorAction;

export type Action = KernelMessage | LocalAction;

export function initialState(chat: string): ChatState {
  return { chat, turns: [], error: null, restored: 0 };
}

export function newTurn(prompt: string, requestId: string | null, startedAt: number | null = null): Turn {
  return {
    requestId,
    prompt,
    steps: [],
    answer: '',
    markdown: null,
    approvals: [],
    statuses: [],
    usage: null,
    upstream: '',
    cost: null,
    model: '',
    provider: '',
    finishReason: null,
    elapsed: null,
    ttft: null,
    error: null,
    streamDone: false,
    done: false,
    startedAt
  };
}

// ---------------------------------------------------------------------------------------
// Helpers.

/** Tool arguments as display text: JSON strings stay, anything else is JSON-encoded. */
export function argumentsText(args: unknown): string {
  if (typeof args === 'string') {
    return args;
  }
  if (args === undefined || args === null) {
    return '';
  }
  try {
    return JSON.stringify(args);
  } catch {
    return String(args);
  }
}

function withLastStep(steps: Step[], step: Step): Step[] {
  const next = steps.slice();
  next[next.length - 1] = step;
  return next;
}

function replaceAt<T>(items: T[], index: number, item: T): T[] {
  const next = items.slice();
  next[index] = item;
  return next;
}

function findCard(steps: Step[], predicate: (card: ToolCard) => boolean): number {
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    if (step.kind === 'tool' && predicate(step)) {
      return i;
    }
  }
  return -1;
}

function newCard(fields: Partial<ToolCard>): ToolCard {
  return {
    kind: 'tool',
    id: '',
    index: null,
    name: '',
    arguments: '',
    status: 'running',
    preview: '',
    duration: null,
    error: null,
    shown: null,
    warning: null,
    ...fields
  };
}

// ---------------------------------------------------------------------------------------
// Events → one turn.

/** Python's `str.isspace` characters (JS `trim` differs on \x1c-\x1f, \x85 and \ufeff), so a
 * remark the Python faces drop as blank is dropped here too. */
const BLANK = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

/** A tool call begins: the answer text so far was a remark between rounds, kept as a note. */
function remarkEnds(turn: Turn): Turn {
  if (!turn.answer) {
    return turn;
  }
  const steps: Step[] = BLANK.test(turn.answer) ? turn.steps : [...turn.steps, { kind: 'note', text: turn.answer }];
  return { ...turn, steps, answer: '' };
}

function sumUsage(a: TokenUsage | null, b: TokenUsage): TokenUsage {
  return {
    prompt: (a?.prompt ?? 0) + (b.prompt ?? 0),
    completion: (a?.completion ?? 0) + (b.completion ?? 0),
    cached: (a?.cached ?? 0) + (b.cached ?? 0),
    reasoning: (a?.reasoning ?? 0) + (b.reasoning ?? 0)
  };
}

/** Apply one stream event to a turn (the rules of kimi_lab/core/timeline.py, in the same order). */
export function applyEvent(turn: Turn, event: StreamEvent): Turn {
  switch (event.type) {
    case 'reasoning': {
      if (!event.text) {
        return turn;
      }
      const last = turn.steps[turn.steps.length - 1];
      if (last && last.kind === 'reasoning') {
        return { ...turn, steps: withLastStep(turn.steps, { kind: 'reasoning', text: last.text + event.text }) };
      }
      return { ...turn, steps: [...turn.steps, { kind: 'reasoning', text: event.text }] };
    }
    case 'content':
      return event.text ? { ...turn, answer: turn.answer + event.text } : turn;
    case 'tool_call_delta': {
      const t = remarkEnds(turn);
      const at = findCard(t.steps, c => c.status === 'preparing' && c.index === event.index);
      if (at < 0) {
        const card = newCard({
          id: event.id ?? '',
          index: event.index,
          name: event.name ?? '',
          arguments: event.arguments ?? '',
          status: 'preparing'
        });
        return { ...t, steps: [...t.steps, card] };
      }
      const card = t.steps[at] as ToolCard;
      const updated: ToolCard = {
        ...card,
        id: card.id || event.id || '',
        name: card.name || event.name || '',
        arguments: card.arguments + (event.arguments ?? '')
      };
      return { ...t, steps: replaceAt(t.steps, at, updated) };
    }
    case 'tool_start': {
      const t = remarkEnds(turn);
      // The preparing card with this id, else the oldest: a round's calls start in order.
      let at = -1;
      let oldest = -1;
      for (let i = 0; i < t.steps.length; i++) {
        const s = t.steps[i];
        if (s.kind === 'tool' && s.status === 'preparing') {
          oldest = oldest < 0 ? i : oldest;
          if (s.id === event.id) {
            at = i;
            break;
          }
        }
      }
      at = at < 0 ? oldest : at;
      const card = newCard({ id: event.id, name: event.name, arguments: argumentsText(event.arguments) });
      return { ...t, steps: at < 0 ? [...t.steps, card] : replaceAt(t.steps, at, card) };
    }
    case 'tool_end': {
      const at = findCard(turn.steps, c => c.id === event.id);
      const preview = event.preview ?? '';
      const finished = {
        status: event.status,
        preview,
        duration: typeof event.duration === 'number' ? event.duration : null
      };
      // A call that did not run well says why in its preview (the result's `error` says it again).
      const failed = event.status !== 'ok' && preview ? preview : null;
      const approvals = turn.approvals.filter(a => a.callId !== event.id);
      if (at < 0) {
        const card = newCard({ id: event.id, name: event.name, ...finished, error: failed });
        return { ...turn, approvals, steps: [...turn.steps, card] };
      }
      const before = turn.steps[at] as ToolCard;
      const card = { ...before, ...finished, error: before.error || failed };
      return { ...turn, approvals, steps: replaceAt(turn.steps, at, card) };
    }
    case 'usage':
      // One `usage` per model round: the turn's tokens are their sum.
      return { ...turn, usage: sumUsage(turn.usage, event.usage), upstream: event.upstream || turn.upstream };
    case 'status':
      return { ...turn, statuses: [...turn.statuses, { message: event.message, level: event.level ?? 'info' }] };
    case 'done':
      return { ...turn, streamDone: true, finishReason: event.finish_reason ?? null };
    case 'error':
      return { ...turn, error: event.message };
    default:
      return turn;
  }
}

function reasoningOf(steps: Step[]): string {
  let text = '';
  for (const step of steps) {
    if (step.kind === 'reasoning') {
      text += step.text;
    }
  }
  return text;
}

function isLive(card: ToolCard): boolean {
  return card.status === 'running' || card.status === 'pending';
}

/** A streamed card with what the result says of its call. */
function finishedCard(card: ToolCard, call: ResultToolCall): ToolCard {
  return {
    ...card,
    duration: typeof call.duration === 'number' ? call.duration : card.duration,
    error: call.error ?? card.error,
    status: isLive(card) ? (call.error ? 'error' : 'ok') : card.status
  };
}

/**
 * Apply the final `result` of an ask: the streamed timeline stays (notes included), the
 * result's calls fill their cards by id, and its content is the answer.
 */
export function applyResult(turn: Turn, result: AskResult): Turn {
  const calls = result.tool_calls ?? [];
  // Queued per id: should a backend reuse an id, the k-th card of it gets the k-th call.
  const byId = new Map<string, ResultToolCall[]>();
  for (const call of calls) {
    const id = call.id ?? '';
    byId.set(id, [...(byId.get(id) ?? []), call]);
  }
  // As Python's `Timeline.end`: a card still only streamed never started and goes; one that
  // started and has no call in the result never ended: the turn was cut off under it.
  let streamedTools = false;
  let steps: Step[] = [];
  for (const step of turn.steps) {
    if (step.kind !== 'tool') {
      steps.push(step);
      continue;
    }
    if (step.status === 'preparing') {
      continue;
    }
    streamedTools = true;
    const call = byId.get(step.id)?.shift();
    steps.push(call ? finishedCard(step, call) : isLive(step) ? { ...step, status: 'interrupted' } : step);
  }
  let answer = result.content ?? '';
  const last = steps[steps.length - 1];
  if (last && last.kind === 'note' && !turn.answer) {
    // A remark no started tool followed (its calls were cut off) was the answer after all.
    steps = steps.slice(0, -1);
    answer = answer || last.text;
  }
  if (!steps.some(s => s.kind !== 'reasoning')) {
    // Only reasoning was streamed, or part of it (this view joined late): the result's is whole.
    const reasoning = result.reasoning ?? '';
    if (reasoningOf(steps) !== reasoning) {
      steps = reasoning ? [{ kind: 'reasoning', text: reasoning }] : [];
    }
  }
  if (!streamedTools && calls.length > 0) {
    // Nothing was streamed (e.g. a turn restored without events): cards from the result.
    steps = [
      ...steps,
      ...calls.map(call =>
        newCard({
          id: call.id ?? '',
          name: call.name,
          arguments: argumentsText(call.arguments),
          status: call.error ? 'error' : 'ok',
          error: call.error ?? null,
          duration: typeof call.duration === 'number' ? call.duration : null
        })
      )
    ];
  }
  return {
    ...turn,
    steps,
    answer,
    markdown: typeof result.markdown === 'string' ? result.markdown : null,
    approvals: [],
    usage: result.usage ? { ...result.usage } : turn.usage,
    cost: typeof result.cost === 'number' ? result.cost : null,
    model: result.model ?? turn.model,
    provider: result.provider ?? turn.provider,
    finishReason: result.finish_reason ?? turn.finishReason,
    elapsed: typeof result.elapsed === 'number' ? result.elapsed : null,
    ttft: typeof result.ttft === 'number' ? result.ttft : null,
    streamDone: true,
    done: true
  };
}

/**
 * The arguments as JSON with every character outside printable ASCII escaped (`\u202e`): what
 * an approval shows when the kernel sent no `display`. Cruder than the kernel's rule, but it
 * cannot hide anything (no control, bidi or zero-width character reaches the screen).
 */
export function asciiArguments(args: unknown): string {
  return prettyArguments(argumentsText(args)).replace(
    /[^\x20-\x7e\n]/g,
    c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  );
}

function applyApproval(turn: Turn, message: ApprovalMessage): Turn {
  const args = argumentsText(message.arguments);
  const approvals = [
    ...turn.approvals.filter(a => a.callId !== message.call_id),
    { callId: message.call_id, name: message.name, arguments: args }
  ];
  // The kernel's text, never the streamed `tool_start` arguments: those are the model's raw
  // text, the approval's are what will run.
  const shown = typeof message.display === 'string' ? message.display : asciiArguments(message.arguments);
  const warning = typeof message.warning === 'string' && message.warning ? message.warning : null;
  const fields = { status: 'pending', shown, warning };
  let steps = turn.steps;
  const at = findCard(steps, c => c.id === message.call_id);
  if (at >= 0) {
    steps = replaceAt(steps, at, { ...(steps[at] as ToolCard), ...fields });
  } else {
    steps = [...steps, newCard({ id: message.call_id, name: message.name, arguments: args, ...fields })];
  }
  return { ...turn, approvals, steps };
}

// ---------------------------------------------------------------------------------------
// Turns of a chat.

function turnIndex(state: ChatState, requestId: string): number {
  for (let i = state.turns.length - 1; i >= 0; i--) {
    if (state.turns[i].requestId === requestId) {
      return i;
    }
  }
  return -1;
}

/**
 * Apply `update` to the turn of `requestId`. A message for an unknown request (an answer
 * that was running when the page reloaded) adopts the last unfinished turn without a
 * request id (restored from history), else starts a turn with no prompt.
 */
function updateTurn(state: ChatState, requestId: string, update: (turn: Turn) => Turn): ChatState {
  let at = turnIndex(state, requestId);
  let turns = state.turns;
  if (at < 0) {
    const last = turns[turns.length - 1];
    if (last && !last.done && last.requestId === null) {
      at = turns.length - 1;
      turns = replaceAt(turns, at, { ...last, requestId });
    } else {
      turns = [...turns, newTurn('', requestId)];
      at = turns.length - 1;
    }
  }
  const before = turns[at];
  const after = update(before);
  if (after === before && turns === state.turns) {
    return state;
  }
  return { ...state, turns: replaceAt(turns, at, after) };
}

function applyEvents(turn: Turn, events: StreamEvent[]): Turn {
  let t = turn;
  for (const event of events) {
    t = applyEvent(t, event);
  }
  return t;
}

function applyHistory(state: ChatState, message: HistoryReply): ChatState {
  if (message.chat !== undefined && message.chat !== state.chat) {
    return state;
  }
  const turns: Turn[] = (message.turns ?? []).map(h => {
    let turn = applyEvents(newTurn(h.prompt ?? '', h.request_id ?? null), h.events ?? []);
    if (h.result) {
      turn = applyResult(turn, h.result);
    }
    return turn;
  });
  // Asks this view started that are still running: join them to their restored turn, or keep them.
  for (const local of state.turns) {
    if (local.done || local.requestId === null) {
      continue;
    }
    if (turns.some(t => t.requestId === local.requestId)) {
      continue;
    }
    const last = turns[turns.length - 1];
    if (last && !last.done && last.requestId === null && last.prompt === local.prompt) {
      turns[turns.length - 1] = { ...last, requestId: local.requestId, startedAt: local.startedAt };
    } else {
      turns.push(local);
    }
  }
  // A later plain `history` (a poll, a reconnect) says 0: the note about the reopened turns stays.
  const restored = typeof message.restored === 'number' && message.restored > 0 ? message.restored : state.restored;
  return { ...state, turns, error: null, restored };
}

function applyError(state: ChatState, message: ErrorReply): ChatState {
  if (message.request_id && turnIndex(state, message.request_id) >= 0) {
    return updateTurn(state, message.request_id, turn => ({ ...turn, error: message.message, done: true, approvals: [] }));
  }
  return { ...state, error: message.message };
}

/** The reducer: `(state, message) => state`, pure. */
export function reduce(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case 'events':
      return updateTurn(state, action.request_id, turn => applyEvents(turn, action.events ?? []));
    case 'approval':
      return updateTurn(state, action.request_id, turn => applyApproval(turn, action));
    case 'result':
      return updateTurn(state, action.request_id, turn => applyResult(turn, (action as ResultMessage).result));
    case 'history':
      return applyHistory(state, action);
    case 'error':
      return applyError(state, action);
    case 'local/ask':
      return { ...state, turns: [...state.turns, newTurn(action.prompt, action.request_id, action.at ?? null)], error: null };
    case 'local/approve':
      if (turnIndex(state, action.request_id) < 0) {
        return state;
      }
      return updateTurn(state, action.request_id, turn => {
        const approvals = turn.approvals.filter(a => a.callId !== action.call_id);
        const at = findCard(turn.steps, c => c.id === action.call_id && c.status === 'pending');
        const steps = at >= 0 ? replaceAt(turn.steps, at, { ...(turn.steps[at] as ToolCard), status: 'running' }) : turn.steps;
        return { ...turn, approvals, steps };
      });
    case 'local/fail':
      if (turnIndex(state, action.request_id) < 0) {
        return { ...state, error: action.message };
      }
      return updateTurn(state, action.request_id, turn => ({ ...turn, error: action.message, done: true }));
    case 'local/clear-error':
      return state.error === null ? state : { ...state, error: null };
    default:
      return state;
  }
}

// ---------------------------------------------------------------------------------------
// Derived values.

/** The request id of the answer still running, if any. */
export function runningRequest(state: ChatState): string | null {
  for (let i = state.turns.length - 1; i >= 0; i--) {
    const turn = state.turns[i];
    if (!turn.done && turn.requestId !== null) {
      return turn.requestId;
    }
  }
  return null;
}

export interface Totals {
  prompt: number;
  completion: number;
  reasoning: number;
  cached: number;
  cost: number | null;
}

/** Tokens and cost summed over the chat's turns. */
export function totals(state: ChatState): Totals {
  const sum: Totals = { prompt: 0, completion: 0, reasoning: 0, cached: 0, cost: null };
  for (const turn of state.turns) {
    if (turn.usage) {
      sum.prompt += turn.usage.prompt ?? 0;
      sum.completion += turn.usage.completion ?? 0;
      sum.reasoning += turn.usage.reasoning ?? 0;
      sum.cached += turn.usage.cached ?? 0;
    }
    if (turn.cost !== null) {
      sum.cost = (sum.cost ?? 0) + turn.cost;
    }
  }
  return sum;
}

/** The chat name for a notebook path: the path without its `.ipynb` extension. */
export function chatNameForPath(path: string): string {
  const name = path.replace(/\\/g, '/').replace(/^\/+/, '').replace(/\.ipynb$/i, '');
  return name || 'default';
}

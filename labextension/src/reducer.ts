/**
 * The pure reducer: kernel messages (and a few local actions) → the chat's view state.
 *
 * All the logic of the live view lives here so the DOM components stay thin. The reducer
 * never mutates its input: a new state shares every unchanged turn and step with the old one,
 * so views can skip work by comparing references.
 */

import type {
  ApprovalMessage,
  AskResult,
  ErrorReply,
  HistoryReply,
  KernelMessage,
  ResultMessage,
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

export type ToolCardStatus = 'preparing' | 'running' | 'pending' | 'ok' | 'error' | 'denied' | 'timeout';

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

export type Step = ReasoningStep | ToolCard;

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
  /** Reasoning segments interleaved with tool cards, in order. */
  steps: Step[];
  /** The answer text: streamed deltas, replaced by `result.content`. */
  answer: string;
  /** `result.markdown` once the result is in. */
  markdown: string | null;
  approvals: PendingApproval[];
  statuses: StatusLine[];
  usage: TokenUsage | null;
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

/** Apply one stream event to a turn. */
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
      const at = findCard(turn.steps, c => c.status === 'preparing' && c.index === event.index);
      if (at < 0) {
        const card = newCard({
          id: event.id ?? '',
          index: event.index,
          name: event.name ?? '',
          arguments: event.arguments ?? '',
          status: 'preparing'
        });
        return { ...turn, steps: [...turn.steps, card] };
      }
      const card = turn.steps[at] as ToolCard;
      const updated: ToolCard = {
        ...card,
        id: card.id || event.id || '',
        name: card.name || event.name || '',
        arguments: card.arguments + (event.arguments ?? '')
      };
      return { ...turn, steps: replaceAt(turn.steps, at, updated) };
    }
    case 'tool_start': {
      let at = findCard(turn.steps, c => c.status === 'preparing' && c.id !== '' && c.id === event.id);
      if (at < 0) {
        at = findCard(turn.steps, c => c.status === 'preparing' && (c.name === '' || c.name === event.name));
        // The oldest preparing card of that name is the one that starts first.
        if (at >= 0) {
          for (let i = 0; i < at; i++) {
            const s = turn.steps[i];
            if (s.kind === 'tool' && s.status === 'preparing' && (s.name === '' || s.name === event.name)) {
              at = i;
              break;
            }
          }
        }
      }
      const card = newCard({ id: event.id, name: event.name, arguments: argumentsText(event.arguments) });
      if (at >= 0) {
        return { ...turn, steps: replaceAt(turn.steps, at, card) };
      }
      return { ...turn, steps: [...turn.steps, card] };
    }
    case 'tool_end': {
      const at = findCard(turn.steps, c => c.id === event.id);
      const finished = {
        status: event.status,
        preview: event.preview ?? '',
        duration: typeof event.duration === 'number' ? event.duration : null
      };
      const approvals = turn.approvals.filter(a => a.callId !== event.id);
      if (at < 0) {
        const card = newCard({ id: event.id, name: event.name, ...finished });
        return { ...turn, approvals, steps: [...turn.steps, card] };
      }
      const card = { ...(turn.steps[at] as ToolCard), ...finished };
      return { ...turn, approvals, steps: replaceAt(turn.steps, at, card) };
    }
    case 'usage':
      return { ...turn, usage: { ...event.usage } };
    case 'status':
      return { ...turn, statuses: [...turn.statuses, { message: event.message, level: event.level ?? 'info' }] };
    case 'done':
      return { ...turn, streamDone: true, finishReason: event.finish_reason ?? turn.finishReason };
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

/** Apply the final `result` of an ask: its values replace what was streamed. */
export function applyResult(turn: Turn, result: AskResult): Turn {
  // Cards still only being streamed never started: drop them.
  let steps = turn.steps.filter(s => !(s.kind === 'tool' && s.status === 'preparing'));
  const hasTools = steps.some(s => s.kind === 'tool');
  const reasoning = result.reasoning ?? '';
  if (!hasTools && reasoningOf(steps) !== reasoning) {
    steps = reasoning ? [{ kind: 'reasoning', text: reasoning }] : [];
  }
  const calls = result.tool_calls ?? [];
  if (calls.length > 0) {
    if (!hasTools) {
      // Nothing was streamed (e.g. a turn restored without events): cards from the result.
      steps = [
        ...steps,
        ...calls.map(call =>
          newCard({
            name: call.name,
            arguments: argumentsText(call.arguments),
            status: call.error ? 'error' : 'ok',
            error: call.error ?? null,
            duration: typeof call.duration === 'number' ? call.duration : null
          })
        )
      ];
    } else {
      // Fill durations and errors into the streamed cards, matched in order.
      let k = 0;
      steps = steps.map(step => {
        if (step.kind !== 'tool') {
          return step;
        }
        const call = calls[k++];
        if (!call || call.name !== step.name) {
          return step;
        }
        return {
          ...step,
          duration: typeof call.duration === 'number' ? call.duration : step.duration,
          error: call.error ?? step.error,
          status: step.status === 'running' || step.status === 'pending' ? (call.error ? 'error' : 'ok') : step.status
        };
      });
    }
  }
  return {
    ...turn,
    steps,
    answer: result.content ?? '',
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
    case 'event':
      return updateTurn(state, action.request_id, turn => applyEvent(turn, action.event));
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

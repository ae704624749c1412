/**
 * Types of the kimi_lab comm protocol (see ../../docs/sidebar-protocol.md).
 *
 * Everything travels as JSON in the `data` of messages on a Jupyter comm with target
 * `kimi_lab`. Requests carry a `request_id` chosen by the frontend; every kernel message
 * about a request echoes it.
 */

/** The comm target the kernel registers on `%load_ext kimi_lab`. */
export const COMM_TARGET = 'kimi_lab';

/** The protocol version this frontend speaks. */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------
// Stream events: exactly `kimi_lab.events.to_dict(event)`.

export interface TokenUsage {
  prompt: number;
  completion: number;
  cached: number;
  reasoning: number;
}

export interface ReasoningEvent {
  type: 'reasoning';
  text: string;
  details?: Record<string, unknown>[] | null;
}

export interface ContentEvent {
  type: 'content';
  text: string;
}

export interface ToolCallDeltaEvent {
  type: 'tool_call_delta';
  index: number;
  id?: string | null;
  name?: string | null;
  arguments?: string;
}

export interface ToolStartEvent {
  type: 'tool_start';
  id: string;
  name: string;
  arguments: string;
}

export type ToolStatus = 'ok' | 'error' | 'denied' | 'timeout';

export interface ToolEndEvent {
  type: 'tool_end';
  id: string;
  name: string;
  status: ToolStatus | string;
  preview?: string;
  duration?: number;
}

export interface UsageStreamEvent {
  type: 'usage';
  usage: TokenUsage;
  /** The host behind a router that answered (OpenRouter's `provider`), or "". */
  upstream?: string;
}

export interface StatusEvent {
  type: 'status';
  message: string;
  level?: 'info' | 'warning' | string;
}

export interface DoneEvent {
  type: 'done';
  finish_reason?: string | null;
}

export interface ErrorStreamEvent {
  type: 'error';
  message: string;
  kind?: string;
}

export type StreamEvent =
  | ReasoningEvent
  | ContentEvent
  | ToolCallDeltaEvent
  | ToolStartEvent
  | ToolEndEvent
  | UsageStreamEvent
  | StatusEvent
  | DoneEvent
  | ErrorStreamEvent;

// ---------------------------------------------------------------------------------------
// The final answer of an `ask`.

export interface ResultToolCall {
  name: string;
  arguments: unknown;
  error?: string | null;
  duration?: number;
}

export interface AskResult {
  content: string;
  reasoning: string;
  markdown?: string;
  usage?: TokenUsage | null;
  cost?: number | null;
  model?: string;
  provider?: string;
  finish_reason?: string | null;
  tool_calls?: ResultToolCall[];
  elapsed?: number;
  ttft?: number | null;
}

export interface HistoryTurn {
  prompt: string;
  events: StreamEvent[];
  result: AskResult | null;
  /** Not in the protocol document; used when a kernel sends it. */
  request_id?: string;
}

// ---------------------------------------------------------------------------------------
// Frontend → kernel.

export interface AskOptions {
  provider?: string;
  model?: string;
  tools?: unknown;
  max_tokens?: number;
  temperature?: number;
  reasoning?: boolean;
}

export interface HelloRequest {
  type: 'hello';
  request_id: string;
}

export interface AskRequest {
  type: 'ask';
  request_id: string;
  chat: string;
  prompt: string;
  options: AskOptions;
}

export interface StopRequest {
  type: 'stop';
  request_id: string;
}

export type ApprovalAnswer = 'yes' | 'no' | 'always';

export interface ApproveRequest {
  type: 'approve';
  request_id: string;
  call_id: string;
  answer: ApprovalAnswer;
}

export interface HistoryRequest {
  type: 'history';
  request_id: string;
  chat: string;
  /** Reload the chat from the transcripts file, replacing the kernel's memory of it. */
  reopen?: boolean;
}

export interface ChatsRequest {
  type: 'chats';
  request_id: string;
}

/** The chats recorded in the transcripts file (and this kernel's in memory); reply `transcripts`. */
export interface TranscriptsRequest {
  type: 'transcripts';
  request_id: string;
}

export interface ProvidersRequest {
  type: 'providers';
  request_id: string;
}

/** What a provider lists right now (GET /models, read once per kernel); reply `models`. */
export interface ModelsRequest {
  type: 'models';
  request_id: string;
  /** A preset name; absent: the kernel's default provider. */
  provider?: string;
}

/** `%kimi doctor`'s free checks (key, endpoint, model); reply `doctor`. */
export interface DoctorRequest {
  type: 'doctor';
  request_id: string;
  provider?: string;
}

export interface ExportRequest {
  type: 'export';
  request_id: string;
  chat: string;
}

export type FrontendRequest =
  | HelloRequest
  | AskRequest
  | StopRequest
  | ApproveRequest
  | HistoryRequest
  | ChatsRequest
  | TranscriptsRequest
  | ProvidersRequest
  | ModelsRequest
  | DoctorRequest
  | ExportRequest;

/** A request before the client stamps its `request_id` on it. */
export type RequestBody<R extends FrontendRequest = FrontendRequest> = R extends FrontendRequest
  ? Omit<R, 'request_id'>
  : never;

// ---------------------------------------------------------------------------------------
// Kernel → frontend.

export interface HelloReply {
  type: 'hello';
  request_id: string;
  protocol: number;
  version: string;
  kernel_id: string;
  chats: string[];
  /** Null when the kernel has no provider configured yet. */
  provider: string | null;
  model: string | null;
}

export interface EventMessage {
  type: 'event';
  request_id: string;
  event: StreamEvent;
}

export interface EventsMessage {
  type: 'events';
  request_id: string;
  events: StreamEvent[];
}

export interface ApprovalMessage {
  type: 'approval';
  request_id: string;
  call_id: string;
  name: string;
  arguments: unknown;
  /**
   * The arguments as the user must see them before allowing the call (the kernel's
   * `approval_view`): every character that would display as something else made visible,
   * `code` numbered by Python's own lines. Shown as text, never as HTML.
   */
  display?: string;
  /** One line naming the hidden characters of the call and where they are; null when none. */
  warning?: string | null;
}

export interface ResultMessage {
  type: 'result';
  request_id: string;
  result: AskResult;
}

export interface HistoryReply {
  type: 'history';
  request_id: string;
  chat: string;
  turns: HistoryTurn[];
  /** How many turns this request loaded back from the transcripts file (0 or absent: none). */
  restored?: number;
}

export interface ChatsReply {
  type: 'chats';
  request_id: string;
  chats: unknown;
}

/** One chat of a `transcripts` reply. */
export interface TranscriptChat {
  name: string;
  turns: number;
  /** Epoch seconds of its last activity; 0 when unknown (transcripts off). */
  last_activity: number;
  tokens: number;
  cost: number | null;
  /** In this kernel's memory (else picking it reopens it from the transcripts file). */
  loaded: boolean;
  /** An answer is running in it. */
  busy: boolean;
}

export interface TranscriptsReply {
  type: 'transcripts';
  request_id: string;
  /** False when transcripts are off: `chats` then lists only this kernel's in-memory chats. */
  enabled: boolean;
  /** Most recently active first. */
  chats: TranscriptChat[];
}

/** One provider preset as the kernel describes it (the document leaves the shape open). */
export interface ProviderInfo {
  name: string;
  model: string;
  /** A key is there for it (its own variable, or the fallback one). */
  key_set: boolean;
  /**
   * It cannot answer without a key (the preset's `key_required`): "custom" and "local" need
   * none, so a missing key is nothing to flag for them.
   */
  needs_key: boolean;
  note?: string;
}

export interface ProvidersReply {
  type: 'providers';
  request_id: string;
  providers: unknown;
  [key: string]: unknown;
}

export interface ModelsReply {
  type: 'models';
  request_id: string;
  provider: string;
  /** Model ids, Kimi ones first; empty when the list could not be read (`error` says why). */
  models: string[];
  /** The model a question would use now. */
  chosen?: string;
  error?: string;
}

export interface DoctorReply {
  type: 'doctor';
  request_id: string;
  /** The checks as aligned plain text (✓ / ✗ / ⚠, with a fix beside every ✗), and as Markdown. */
  text: string;
  markdown: string;
  ok: boolean;
}

export interface ExportReply {
  type: 'export';
  request_id: string;
  chat?: string;
  markdown?: string;
  /** `transcripts`: every recorded turn across kernels; `memory`: this kernel's turns. */
  source?: 'transcripts' | 'memory' | string;
  [key: string]: unknown;
}

export interface ErrorReply {
  type: 'error';
  request_id: string;
  message: string;
}

export type KernelMessage =
  | HelloReply
  | EventMessage
  | EventsMessage
  | ApprovalMessage
  | ResultMessage
  | HistoryReply
  | ChatsReply
  | TranscriptsReply
  | ProvidersReply
  | ModelsReply
  | DoctorReply
  | ExportReply
  | ErrorReply;

/** Kernel message types that answer a single request (and end it). */
export const REPLY_TYPES: ReadonlySet<string> = new Set([
  'hello',
  'history',
  'chats',
  'transcripts',
  'providers',
  'models',
  'doctor',
  'export'
]);

const KERNEL_TYPES: ReadonlySet<string> = new Set([
  'hello',
  'event',
  'events',
  'approval',
  'result',
  'history',
  'chats',
  'transcripts',
  'providers',
  'models',
  'doctor',
  'export',
  'error'
]);

/** Whether comm data looks like a kernel message of this protocol. */
export function isKernelMessage(data: unknown): data is KernelMessage {
  if (typeof data !== 'object' || data === null) {
    return false;
  }
  const type = (data as { type?: unknown }).type;
  return typeof type === 'string' && KERNEL_TYPES.has(type);
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * `needs_key` as the kernel says it; a kernel from before that field: a preset that names no
 * key variable (`key_env: null`, as "custom" and "local") needs none, and otherwise one is needed.
 */
function needsKey(spec: Record<string, unknown>): boolean {
  if (typeof spec.needs_key === 'boolean') {
    return spec.needs_key;
  }
  if ('key_env' in spec) {
    return typeof spec.key_env === 'string' && spec.key_env !== '';
  }
  return true;
}

function keySet(spec: Record<string, unknown>): boolean {
  for (const k of ['key_set', 'has_key', 'configured', 'available', 'ready']) {
    if (typeof spec[k] === 'boolean') {
      return spec[k] as boolean;
    }
  }
  return true;
}

/**
 * The presets of a `providers` reply, whatever reasonable shape the kernel used:
 * a list of `{name, model, key_set}` or a mapping name → `{model, key_set}`.
 */
export function normalizeProviders(reply: { providers?: unknown; fallback_key_set?: unknown }): ProviderInfo[] {
  const raw = reply.providers;
  // A key in the fallback variable serves presets whose own variable is unset.
  const fallback = reply.fallback_key_set === true;
  const out: ProviderInfo[] = [];
  const push = (name: unknown, spec: Record<string, unknown>): void => {
    if (typeof name !== 'string' || !name) {
      return;
    }
    out.push({
      name,
      model: typeof spec.model === 'string' ? spec.model : '',
      key_set: fallback || keySet(spec),
      needs_key: needsKey(spec),
      note: typeof spec.note === 'string' ? spec.note : undefined
    });
  };
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (typeof item === 'string') {
        push(item, {});
      } else {
        const spec = asRecord(item);
        if (spec) {
          push(spec.name, spec);
        }
      }
    }
  } else {
    const map = asRecord(raw);
    if (map) {
      for (const [name, value] of Object.entries(map)) {
        push(name, asRecord(value) ?? {});
      }
    }
  }
  return out;
}

/** Chat names of a `chats` or `hello` reply (a list of names or of `{name}` objects). */
export function normalizeChats(raw: unknown): string[] {
  if (!Array.isArray(raw)) {
    const map = asRecord(raw);
    return map ? Object.keys(map) : [];
  }
  const out: string[] = [];
  for (const item of raw) {
    if (typeof item === 'string') {
      out.push(item);
    } else {
      const name = asRecord(item)?.name;
      if (typeof name === 'string') {
        out.push(name);
      }
    }
  }
  return out;
}

function finiteNumber(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/**
 * The chats of a `transcripts` reply, defensively (unknown fields ignored, missing ones filled
 * in): a kernel that lists a chat without `loaded` is taken to have it loaded.
 */
export function normalizeTranscripts(reply: { enabled?: unknown; chats?: unknown }): {
  enabled: boolean;
  chats: TranscriptChat[];
} {
  const chats: TranscriptChat[] = [];
  const seen = new Set<string>();
  for (const item of Array.isArray(reply.chats) ? reply.chats : []) {
    const spec = typeof item === 'string' ? { name: item } : asRecord(item);
    const name = spec?.name;
    if (!spec || typeof name !== 'string' || seen.has(name)) {
      continue;
    }
    seen.add(name);
    chats.push({
      name,
      turns: finiteNumber(spec.turns, 0),
      last_activity: finiteNumber(spec.last_activity, 0),
      tokens: finiteNumber(spec.tokens, 0),
      cost: typeof spec.cost === 'number' && Number.isFinite(spec.cost) ? spec.cost : null,
      loaded: typeof spec.loaded === 'boolean' ? spec.loaded : true,
      busy: spec.busy === true
    });
  }
  return { enabled: reply.enabled !== false, chats };
}

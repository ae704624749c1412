// Generated from kimi_lab/faces/comm/protocol.py by `python -m kimi_lab.faces.comm.protocol --write`: do not edit.
// The comm protocol's types (docs/sidebar-protocol.md); protocol.ts holds the hand-written helpers.

/** The comm target the kernel registers on `%load_ext kimi_lab`. */
export const COMM_TARGET = 'kimi_lab';

/** The protocol this frontend speaks. */
export const PROTOCOL_VERSION = 1;

// Stream events: exactly `kimi_lab.common.events.to_dict(event)`.

/** Token counts of a request (or a sum of requests). */
export interface TokenUsage {
  /** prompt tokens */
  prompt: number;
  /** completion tokens (reasoning included) */
  completion: number;
  /** prompt tokens read from the provider's cache */
  cached: number;
  /** reasoning tokens */
  reasoning: number;
}

/** Reasoning text. */
export interface ReasoningEvent {
  type: 'reasoning';
  /** the text, to append */
  text: string;
  /** OpenRouter's raw `reasoning_details` items (echoed back to it), or null */
  details: Record<string, unknown>[] | null;
}

/** Answer text. */
export interface ContentEvent {
  type: 'content';
  /** the text, to append */
  text: string;
}

/** A fragment of a tool call still being streamed. */
export interface ToolCallDeltaEvent {
  type: 'tool_call_delta';
  /** which call of the round it belongs to (fragments are joined by index) */
  index: number;
  /** the call's id, once known, else null */
  id: string | null;
  /** the tool's name, once known, else null */
  name: string | null;
  /** a piece of the arguments' JSON text */
  arguments: string;
}

/** A complete tool call, about to run (or to be asked about). */
export interface ToolStartEvent {
  type: 'tool_start';
  /** the call's id */
  id: string;
  /** the tool */
  name: string;
  /** the arguments as the model sent them (JSON text) */
  arguments: string;
}

/** What came of a tool call. */
export interface ToolEndEvent {
  type: 'tool_end';
  /** the call's id */
  id: string;
  /** the tool */
  name: string;
  /** `ok`, `error`, `denied` or `timeout` */
  status: string;
  /** a short text form of the result */
  preview: string;
  /** seconds it ran */
  duration: number;
}

/** The token counts of one model request. */
export interface UsageStreamEvent {
  type: 'usage';
  /** the counts */
  usage: TokenUsage;
  /** the host that answered behind a router (OpenRouter's `provider`), or "" */
  upstream: string;
}

/** Something to show that is not part of the answer (a retry, a warning). */
export interface StatusEvent {
  type: 'status';
  /** one line */
  message: string;
  /** `info` or `warning` */
  level: string;
}

/** The model finished. */
export interface DoneEvent {
  type: 'done';
  /** why, as the provider says (`stop`, `length`, …), or null */
  finish_reason: string | null;
}

/** The answer failed; a `result` with the partial answer follows. */
export interface ErrorStreamEvent {
  type: 'error';
  /** one line, what to do */
  message: string;
  /** the error's category */
  kind: string;
}

/** One stream event. */
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

// What the messages carry.

/** One tool call of the answer. */
export interface ResultToolCall {
  /** the call's id (as in `tool_start`) */
  id: string;
  /** the tool */
  name: string;
  /** the arguments, parsed */
  arguments: unknown;
  /** why it failed, or null */
  error: string | null;
  /** seconds it ran */
  duration: number;
}

/** The final answer of an `ask`, as `kimi_lab.ask` returns it. */
export interface AskResult {
  /** the answer */
  content: string;
  /** the reasoning */
  reasoning: string;
  /** the answer as the magic shows it */
  markdown: string;
  /** tokens over all rounds */
  usage: TokenUsage;
  /** US dollars, or null when the price is unknown */
  cost: number | null;
  /** the model that answered */
  model: string;
  /** the provider preset */
  provider: string;
  /** why the model stopped (`stop`, `length`, `interrupted`, …), or null */
  finish_reason: string | null;
  /** the tool calls, in order */
  tool_calls: ResultToolCall[];
  /** seconds from question to answer */
  elapsed: number;
  /** seconds to the first visible token, or null */
  ttft: number | null;
  /** the conversation */
  chat: string;
  /** the question */
  prompt: string;
  /** notes about the answer (a cut-off, a dropped option) */
  warnings: string[];
  /** why the answer failed, or null */
  error: string | null;
}

/** One turn of a `history` reply. */
export interface HistoryTurn {
  /** the question */
  prompt: string;
  /** the stream events that redraw it */
  events: StreamEvent[];
  /** its result, or null while it is still answering */
  result: AskResult | null;
  /** only on an unfinished turn: the `request_id` of its `ask` */
  request_id?: string;
}

/** A chat that can be reopened. */
export interface TranscriptChat {
  /** the chat's name */
  name: string;
  /** how many turns it has */
  turns: number;
  /** epoch seconds of its last activity; 0 when it is only in memory */
  last_activity: number;
  /** prompt and completion tokens over its turns */
  tokens: number;
  /** US dollars, or null when unknown */
  cost: number | null;
  /** in this kernel's memory (else picking it reopens it from the transcripts file) */
  loaded: boolean;
  /** an answer is running in it */
  busy: boolean;
}

/** A chat in this kernel's memory. */
export interface MemoryChat {
  /** the chat's name */
  name: string;
  /** how many turns it has */
  turns: number;
  /** an answer is running in it */
  busy: boolean;
}

/** US dollars per million tokens. */
export interface ProviderPrice {
  /** prompt tokens */
  input: number;
  /** completion tokens */
  output: number;
  /** prompt tokens read from the cache */
  cache_read: number;
}

/** A provider preset (never its key). */
export interface ProviderInfo {
  /** the preset's name */
  name: string;
  /** its endpoint with any password masked, or null when it has none of its own */
  base_url: string | null;
  /** its default model */
  model: string;
  /** how it streams reasoning */
  dialect: string;
  /** the variable its key is read from, or null */
  key_env: string | null;
  /** that variable is set (the fallback variable may still serve it) */
  key_set: boolean;
  /** it cannot answer without a key (false for `custom` and `local`) */
  needs_key: boolean;
  /** its price, or null when unknown */
  price: ProviderPrice | null;
  /** its context window, in tokens */
  context: number;
  /** the most tokens it answers with */
  max_output: number;
}

/** The options of an `ask`, with `kimi_lab.ask`'s names and meanings. No `base_url`: a frontend must not be able to send the kernel's API key to a URL of its choosing. */
export interface AskOptions {
  /** a preset name */
  provider?: string;
  /** a model id */
  model?: string;
  /** which tools: `auto`, `data`, `none`, `+code`, or names */
  tools?: string;
  /** the most tokens to answer with */
  max_tokens?: number;
  /** sampling temperature */
  temperature?: number;
  /** nucleus sampling */
  top_p?: number;
  /** show the reasoning */
  reasoning?: boolean;
  /** a system prompt */
  system?: string;
  /** start the conversation afresh */
  new?: boolean;
  /** sampling seed */
  seed?: number;
  /** the most tool rounds */
  max_rounds?: number;
}

/** The answers to an `approval`. */
export type ApprovalAnswer =
  | 'yes'
  | 'no'
  | 'always';

// Frontend → kernel.

/** Who are you; reply `hello`. */
export interface HelloRequest {
  type: 'hello';
  request_id: string;
  /** the frontend's protocol; a kernel that speaks another refuses with an `error` saying which side to upgrade */
  protocol?: number;
}

/** Ask in conversation `chat`: the answer streams as `events`, then one `result`; one `error` instead if it cannot start (no provider set up, bad options, the chat busy with another answer). */
export interface AskRequest {
  type: 'ask';
  request_id: string;
  /** the conversation; absent: the kernel's default chat */
  chat?: string;
  /** the question (`{name}` in it reads a variable, between cells) */
  prompt: string;
  /** unknown ones are an `error` */
  options?: AskOptions;
}

/** Stop that answer at the next chunk; the partial answer is kept. Ignored after it finished. */
export interface StopRequest {
  type: 'stop';
  /** the `ask`'s */
  request_id: string;
}

/** Answer an `approval`. */
export interface ApproveRequest {
  type: 'approve';
  /** the `ask`'s */
  request_id: string;
  /** the approval's */
  call_id: string;
  /** `always` also allows this tool for the rest of the session */
  answer: ApprovalAnswer;
}

/** The chat's turns, for a restored view; reply `history`. A chat this kernel has not seen (a fresh kernel, after a restart) is first reopened from the transcripts file. */
export interface HistoryRequest {
  type: 'history';
  request_id: string;
  /** the conversation; absent: the kernel's default chat */
  chat?: string;
  /** reload it from the transcripts file (an `error` while it is answering) */
  reopen?: boolean;
}

/** The conversations in this kernel's memory; reply `chats`. */
export interface ChatsRequest {
  type: 'chats';
  request_id: string;
}

/** The chats that can be reopened: every chat in the transcripts file (any kernel, any day), then this kernel's unrecorded ones; reply `transcripts`. */
export interface TranscriptsRequest {
  type: 'transcripts';
  request_id: string;
}

/** The provider presets; reply `providers`. */
export interface ProvidersRequest {
  type: 'providers';
  request_id: string;
}

/** What a provider lists now (`GET /models`, read once per kernel, on a thread); reply `models`. */
export interface ModelsRequest {
  type: 'models';
  request_id: string;
  /** a preset name; absent: the kernel's default provider */
  provider?: string;
}

/** `%kimi doctor`'s free checks (key source, endpoint, model), run on a thread; reply `doctor`. */
export interface DoctorRequest {
  type: 'doctor';
  request_id: string;
  /** a preset name; absent: the kernel's default provider */
  provider?: string;
}

/** The chat as Markdown; reply `export`. */
export interface ExportRequest {
  type: 'export';
  request_id: string;
  /** the conversation; absent: the kernel's default chat */
  chat?: string;
}

/** A request of the frontend. */
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

// Kernel → frontend.

/** Reply to `hello`. */
export interface HelloReply {
  type: 'hello';
  request_id: string;
  /** the kernel's protocol; a frontend that knows only a lower one says so and stops */
  protocol: number;
  /** kimi_lab's version */
  version: string;
  /** the id the Jupyter server gave this kernel, or null */
  kernel_id: string | null;
  /** the names of the chats in memory */
  chats: string[];
  /** the provider a question would use; null when none is set up yet */
  provider: string | null;
  /** the model a question would use; null when none is set up yet */
  model: string | null;
}

/** Stream events of an `ask`, in order. Text deltas are coalesced in the kernel (at most every 50 to 100 ms, and at every boundary), so there is no per-token traffic. */
export interface EventsMessage {
  type: 'events';
  /** the `ask`'s */
  request_id: string;
  /** each exactly `kimi_lab.common.events.to_dict(event)` */
  events: StreamEvent[];
}

/** A tool that asks wants to run: show `display` (with `warning` above it), then send `approve`. */
export interface ApprovalMessage {
  type: 'approval';
  /** the `ask`'s */
  request_id: string;
  /** the call's id (as in `tool_start`) */
  call_id: string;
  /** the tool */
  name: string;
  /** the parsed arguments (never shown in place of `display`) */
  arguments: Record<string, unknown>;
  /** the arguments as every approval prompt shows them, hidden characters made visible */
  display: string;
  /** names each hidden character and where it is, or null */
  warning: string | null;
}

/** The final answer: always the last message of an `ask` that started. */
export interface ResultMessage {
  type: 'result';
  /** the `ask`'s */
  request_id: string;
  /** the answer */
  result: AskResult;
}

/** Reply to `history`. While the chat's answer is still running, this comm follows it from here on. */
export interface HistoryReply {
  type: 'history';
  request_id: string;
  /** the conversation */
  chat: string;
  /** its turns, oldest first */
  turns: HistoryTurn[];
  /** how many turns this request reopened from the transcripts file (0: none) */
  restored: number;
}

/** Reply to `chats`. */
export interface ChatsReply {
  type: 'chats';
  request_id: string;
  /** the chats in this kernel's memory */
  chats: MemoryChat[];
}

/** Reply to `transcripts`. */
export interface TranscriptsReply {
  type: 'transcripts';
  request_id: string;
  /** transcripts are on (off: only this kernel's chats are listed) */
  enabled: boolean;
  /** most recently active first */
  chats: TranscriptChat[];
}

/** Reply to `providers`. */
export interface ProvidersReply {
  type: 'providers';
  request_id: string;
  /** the presets, built-in and the user's */
  providers: ProviderInfo[];
  /** the variable whose key serves every preset */
  fallback_key_env: string;
  /** that variable is set */
  fallback_key_set: boolean;
}

/** Reply to `models`. */
export interface ModelsReply {
  type: 'models';
  request_id: string;
  /** the preset that was asked */
  provider: string;
  /** model ids, Kimi ones first; empty when the list could not be read */
  models: string[];
  /** the model a question would use */
  chosen: string;
  /** why the list could not be read, or "" */
  error: string;
}

/** Reply to `doctor`. */
export interface DoctorReply {
  type: 'doctor';
  request_id: string;
  /** aligned lines, ✓ / ✗ / ⚠, with a fix beside every ✗ */
  text: string;
  /** the same as a Markdown table */
  markdown: string;
  /** everything works */
  ok: boolean;
}

/** Reply to `export`: every recorded turn (across kernels) when transcripts are on, else this kernel's turns. */
export interface ExportReply {
  type: 'export';
  request_id: string;
  /** the conversation */
  chat: string;
  /** each prompt, then its answer as the magic shows it */
  markdown: string;
  /** where the turns came from */
  source: 'transcripts' | 'memory';
  /** how many turns the Markdown holds */
  turns: number;
}

/** A request that could not be served. */
export interface ErrorReply {
  type: 'error';
  /** the request's, or null when it had none */
  request_id: string | null;
  /** one line: what went wrong and what to do */
  message: string;
}

/** A message of the kernel. */
export type KernelMessage =
  | HelloReply
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

/** Every kernel message type. */
export const KERNEL_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'hello',
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

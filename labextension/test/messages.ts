/**
 * Whole protocol objects for the fakes: the kernel always sends every field of a message
 * (tests/test_protocol.py checks it), so a fake that leaves fields out would test a kernel
 * that does not exist. Each takes the fields a test cares about.
 */
import type {
  ApprovalMessage,
  AskResult,
  ErrorStreamEvent,
  HistoryReply,
  ProviderInfo,
  ProvidersReply,
  ReasoningEvent,
  ResultToolCall,
  TokenUsage,
  ToolCallDeltaEvent,
  ToolEndEvent,
  UsageStreamEvent
} from '../src/protocol';

export const NO_USAGE: TokenUsage = { prompt: 0, completion: 0, cached: 0, reasoning: 0 };

/** A `result`'s answer; its `markdown` is the content, as the kernel renders plain text. */
export function askResult(fields: Partial<AskResult> = {}): AskResult {
  return {
    content: '',
    reasoning: '',
    markdown: fields.content ?? '',
    usage: NO_USAGE,
    cost: null,
    model: 'kimi-k2-thinking',
    provider: 'moonshot',
    finish_reason: 'stop',
    tool_calls: [],
    elapsed: 1,
    ttft: null,
    chat: 'default',
    prompt: '',
    warnings: [],
    error: null,
    ...fields
  };
}

/** A preset of a `providers` reply. */
export function providerInfo(fields: Partial<ProviderInfo> & Pick<ProviderInfo, 'name'>): ProviderInfo {
  return {
    base_url: 'https://api.example.test/v1',
    model: '',
    dialect: 'reasoning_content',
    key_env: `${fields.name.toUpperCase()}_API_KEY`,
    key_set: false,
    needs_key: true,
    price: null,
    context: 262144,
    max_output: 262144,
    ...fields
  };
}

/** An `approval`, its `display` the arguments as JSON (the kernel's shows them line by line). */
export function approval(
  fields: Pick<ApprovalMessage, 'request_id' | 'call_id' | 'name' | 'arguments'> & Partial<ApprovalMessage>
): ApprovalMessage {
  return { type: 'approval', display: JSON.stringify(fields.arguments), warning: null, ...fields };
}

/**
 * Stream events with the fields a test leaves out filled as the kernel's dataclasses
 * (kimi_lab/common/events.py) default them: `to_dict` always sends every field.
 */
export function reasoningEvent(text: string, details: ReasoningEvent['details'] = null): ReasoningEvent {
  return { type: 'reasoning', text, details };
}

/** A `tool_call_delta`: after the first fragment of a call its `id` and `name` are null. */
export function toolCallDelta(
  fields: Pick<ToolCallDeltaEvent, 'index'> & Partial<Omit<ToolCallDeltaEvent, 'type'>>
): ToolCallDeltaEvent {
  return { type: 'tool_call_delta', id: null, name: null, arguments: '', ...fields };
}

export function toolEnd(
  fields: Pick<ToolEndEvent, 'id' | 'name' | 'status'> & Partial<Omit<ToolEndEvent, 'type'>>
): ToolEndEvent {
  return { type: 'tool_end', preview: '', duration: 0, ...fields };
}

export function usageEvent(usage: TokenUsage, upstream = ''): UsageStreamEvent {
  return { type: 'usage', usage, upstream };
}

export function errorEvent(message: string, kind = 'error'): ErrorStreamEvent {
  return { type: 'error', message, kind };
}

/** One call of a `result`'s `tool_calls`, by default one that did not fail. */
export function toolCall(fields: Pick<ResultToolCall, 'id' | 'name'> & Partial<ResultToolCall>): ResultToolCall {
  return { arguments: {}, error: null, duration: 0, ...fields };
}

/** A `history` reply; `restored` 0: no turn was reopened from the transcripts file. */
export function historyReply(
  fields: Pick<HistoryReply, 'request_id' | 'chat' | 'turns'> & Partial<HistoryReply>
): HistoryReply {
  return { type: 'history', restored: 0, ...fields };
}

/** A `providers` reply; by default the fallback variable is not set. */
export function providersReply(
  fields: Pick<ProvidersReply, 'request_id' | 'providers'> & Partial<ProvidersReply>
): ProvidersReply {
  return { type: 'providers', fallback_key_env: 'KIMI_LAB_API_KEY', fallback_key_set: false, ...fields };
}

/**
 * A message with fields left out: never what a kernel of this protocol sends, only for the tests
 * of the frontend's guards against one that does. The result is typed as the whole message on
 * purpose (the code under test receives it as one); the name says it is not.
 */
export function withoutFields<T extends object, K extends keyof T>(message: T, ...keys: K[]): T {
  const copy: Partial<T> = { ...message };
  for (const key of keys) {
    delete copy[key];
  }
  return copy as T;
}

/**
 * The kimi_lab comm protocol (see ../../docs/sidebar-protocol.md). Its types are generated from
 * kimi_lab/faces/comm/protocol.py into protocol.generated.ts (`python -m kimi_lab.faces.comm.protocol --write`), which
 * this module re-exports; here are only the hand-written runtime helpers.
 */

import {
  KERNEL_MESSAGE_TYPES,
  type FrontendRequest,
  type KernelMessage,
  type ProviderInfo,
  type ProvidersReply
} from './protocol.generated';

export * from './protocol.generated';

/** A request before the client stamps its `request_id` on it. */
export type RequestBody<R extends FrontendRequest = FrontendRequest> = R extends FrontendRequest
  ? Omit<R, 'request_id'>
  : never;

/** Whether comm data is a kernel message of this protocol (an object with a known `type`). */
export function isKernelMessage(data: unknown): data is KernelMessage {
  if (typeof data !== 'object' || data === null) {
    return false;
  }
  const type = (data as { type?: unknown }).type;
  return typeof type === 'string' && KERNEL_MESSAGE_TYPES.has(type);
}

/**
 * The presets of a `providers` reply, each with `key_set` true when a key serves it: its own
 * variable's, or the fallback variable's, which serves every preset.
 */
export function normalizeProviders(reply: ProvidersReply): ProviderInfo[] {
  return reply.providers.map(p => ({ ...p, key_set: p.key_set || reply.fallback_key_set }));
}

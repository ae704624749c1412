/** The provider box marks "(no key)" only for presets that need a key and have none. */
import { describe, expect, it } from 'vitest';

import { normalizeProviders, type ProvidersReply } from '../src/protocol';
import { providerLabel } from '../src/providers';
import { providerInfo } from './messages';

// As kimi_lab/faces/comm/dispatch.py replies `providers` (the loopback key is in the fallback variable or not).
const reply = (fallback: boolean): ProvidersReply => ({
  type: 'providers',
  request_id: 'p',
  fallback_key_env: 'KIMI_LAB_API_KEY',
  fallback_key_set: fallback,
  providers: [
    providerInfo({ name: 'moonshot', model: 'kimi-k2.6', key_env: 'MOONSHOT_API_KEY', key_set: false, needs_key: true }),
    providerInfo({ name: 'openrouter', model: 'moonshotai/kimi-k2-thinking', key_env: 'OPENROUTER_API_KEY', key_set: true, needs_key: true }),
    providerInfo({ name: 'custom', model: 'kimi-k2-thinking', key_env: null, key_set: false, needs_key: false }),
    providerInfo({ name: 'local', model: '', key_env: null, key_set: false, needs_key: false })
  ]
});

describe('providerLabel', () => {
  it('"(no key)" only where a key is required and missing', () => {
    expect(normalizeProviders(reply(false)).map(providerLabel)).toEqual([
      'moonshot · kimi-k2.6 (no key)',
      'openrouter · moonshotai/kimi-k2-thinking',
      'custom · kimi-k2-thinking',
      'local'
    ]);
  });

  it('a key in the fallback variable serves every preset', () => {
    expect(normalizeProviders(reply(true)).map(providerLabel)).not.toContain('moonshot · kimi-k2.6 (no key)');
    expect(normalizeProviders(reply(true)).every(p => p.key_set)).toBe(true);
  });

  it('a user preset with a key variable that is optional (key_required false) is not flagged', () => {
    const [p] = normalizeProviders({
      ...reply(false),
      providers: [providerInfo({ name: 'vllm', model: 'k2', key_env: 'VLLM_KEY', key_set: false, needs_key: false })]
    });
    expect(providerLabel(p)).toBe('vllm · k2');
  });
});

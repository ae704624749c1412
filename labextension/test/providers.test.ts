/** The provider box marks "(no key)" only for presets that need a key and have none. */
import { describe, expect, it } from 'vitest';

import { normalizeProviders } from '../src/protocol';
import { providerLabel } from '../src/providers';

// As kimi_lab/bridge.py replies `providers` (the loopback key is in the fallback variable or not).
const reply = (fallback: boolean) => ({
  fallback_key_set: fallback,
  providers: [
    { name: 'moonshot', model: 'kimi-k2.6', key_env: 'MOONSHOT_API_KEY', key_set: false, needs_key: true },
    { name: 'openrouter', model: 'moonshotai/kimi-k2-thinking', key_env: 'OPENROUTER_API_KEY', key_set: true, needs_key: true },
    { name: 'custom', model: 'kimi-k2-thinking', key_env: null, key_set: false, needs_key: false },
    { name: 'local', model: '', key_env: null, key_set: false, needs_key: false }
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
  });

  it('a kernel from before `needs_key`: a preset without a key variable needs no key', () => {
    const old = reply(false).providers.map(({ needs_key: _drop, ...rest }) => rest);
    const list = normalizeProviders({ providers: old });
    expect(list.map(p => [p.name, p.needs_key])).toEqual([
      ['moonshot', true],
      ['openrouter', true],
      ['custom', false],
      ['local', false]
    ]);
    expect(list.map(providerLabel)[2]).toBe('custom · kimi-k2-thinking');
  });

  it('a user preset with a key variable that is optional (key_required false) is not flagged', () => {
    const [p] = normalizeProviders({ providers: [{ name: 'vllm', model: 'k2', key_env: 'VLLM_KEY', key_set: false, needs_key: false }] });
    expect(providerLabel(p)).toBe('vllm · k2');
  });
});

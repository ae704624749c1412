/**
 * The provider and model selector: the providers each kernel offers (asked once per client),
 * and a model box for another model of that provider (empty: the preset's model).
 */

import type { KimiClient } from './client';
import { h } from './dom';
import {
  normalizeProviders,
  type AskOptions,
  type ModelsReply,
  type ProviderInfo,
  type ProvidersReply
} from './protocol';

let pickers = 0;

/**
 * A provider's line in the selector: name, preset model, and "(no key)" only when it needs a
 * key and none is set (not for "custom" or "local", which need none).
 */
export function providerLabel(p: ProviderInfo): string {
  return `${p.name}${p.model ? ` · ${p.model}` : ''}${p.needs_key && !p.key_set ? ' (no key)' : ''}`;
}

export class ProviderPicker {
  /** `current`: the bound client, whose providers a load shows as soon as they arrive. */
  constructor(current: () => KimiClient | null) {
    this._current = current;
    this.select.addEventListener('change', () => {
      this._placeholder();
      void this._loadModels();
    });
    this.model.setAttribute('list', this.models.id);
  }

  readonly select = h('select', { className: 'kimi-providers jp-mod-styled', attrs: { title: 'Provider' } });
  readonly model = h('input', {
    className: 'kimi-model jp-mod-styled',
    attrs: { type: 'text', title: "Model: empty for the provider's default", 'aria-label': 'Model', spellcheck: 'false' }
  });
  /** What the selected provider lists (Kimi ids first), offered as the model box's suggestions. */
  readonly models = h('datalist', { className: 'kimi-model-list', attrs: { id: `kimi-model-list-${++pickers}` } });
  readonly node = h('div', { className: 'kimi-provider-picker' }, this.select, this.model, this.models);

  /** List `client`'s providers, as far as they are loaded (none: hidden). */
  use(client: KimiClient | null): void {
    this._list = client ? this._cache.get(client) ?? [] : [];
  }

  async load(client: KimiClient): Promise<void> {
    if (this._cache.has(client)) {
      return;
    }
    try {
      const reply = await client.request<ProvidersReply>({ type: 'providers' });
      const list = normalizeProviders(reply);
      this._cache.set(client, list);
      if (this._current() === client) {
        this._list = list;
        this.render();
        void this._loadModels();
      }
    } catch {
      // No selector then: the kernel's default provider answers.
    }
  }

  forget(client: KimiClient): void {
    this._cache.delete(client);
    this._listed.delete(client);
  }

  /** Fill the suggestions with what the selected provider lists, asked once per client and provider. */
  private async _loadModels(): Promise<void> {
    const client = this._current();
    if (!client) {
      return;
    }
    const provider = this.select.value;
    const known = this._listed.get(client) ?? new Map<string, string[]>();
    this._listed.set(client, known);
    let ids = known.get(provider);
    if (!ids) {
      try {
        const reply = await client.request<ModelsReply>(provider ? { type: 'models', provider } : { type: 'models' });
        ids = reply.models;
      } catch {
        ids = []; // no list: the box still takes any id
      }
      known.set(provider, ids);
    }
    if (this._current() === client && this.select.value === provider) {
      this.models.replaceChildren(...ids.map(id => h('option', { attrs: { value: id } })));
    }
  }

  /** The selected provider and its model for an ask; empty for the kernel's default. */
  askOptions(): AskOptions {
    const options: AskOptions = {};
    const choice = this._list.find(p => p.name === this.select.value);
    if (choice) {
      options.provider = choice.name;
    }
    const model = this.model.value.trim() || choice?.model;
    if (model) {
      options.model = model;
    }
    return options;
  }

  render(): void {
    const list = this._list;
    this.node.hidden = list.length === 0;
    const key = JSON.stringify(list);
    if (key === this._key) {
      return; // unchanged (this runs on every render)
    }
    this._key = key;
    const selected = this.select.value;
    this.select.replaceChildren(
      h('option', { text: 'Kernel default', attrs: { value: '' } }),
      ...list.map(p => h('option', { text: providerLabel(p), attrs: { value: p.name } }))
    );
    if (list.some(p => p.name === selected)) {
      this.select.value = selected;
    }
    this._placeholder();
  }

  /** The model box shows the selected preset's model as its placeholder. */
  private _placeholder(): void {
    const choice = this._list.find(p => p.name === this.select.value);
    this.model.placeholder = choice?.model ? choice.model : 'model (default)';
  }

  private readonly _current: () => KimiClient | null;
  private readonly _cache = new Map<KimiClient, ProviderInfo[]>();
  /** Model ids each client's providers list, by preset name ('' for the kernel default). */
  private readonly _listed = new Map<KimiClient, Map<string, string[]>>();
  private _list: ProviderInfo[] = [];
  /** The list the options were built from. */
  private _key = '';
}

/** The connection row: how the bound kernel's kimi_lab is doing, with Retry when it is not. */

import type { Binding } from './binding';
import { h, setText } from './dom';

export class ConnectionRow {
  constructor(onRetry: () => void) {
    this.node = h('div', { className: 'kimi-connection' }, this._text);
    this._retry.addEventListener('click', onRetry);
  }

  readonly node: HTMLDivElement;

  render(binding: Binding | null): void {
    const client = binding?.client ?? null;
    let text = '';
    let failed = false;
    if (binding && !client) {
      text = binding.note ?? 'This notebook has no kernel.';
    } else if (client) {
      switch (client.status) {
        case 'connecting':
          text = 'Connecting to the kernel…';
          break;
        case 'error':
          text = client.error ?? 'Could not connect.';
          failed = true;
          break;
        case 'idle':
          text = 'Not connected (the kernel restarted?).';
          failed = true;
          break;
        case 'ready': {
          const hello = client.hello;
          const target = hello?.model ? ` · ${hello.provider ? `${hello.provider}/` : ''}${hello.model}` : ' · no provider configured yet';
          text = hello ? `kimi_lab ${hello.version}${target}` : '';
          break;
        }
        default:
          text = '';
      }
    }
    setText(this._text, text);
    this._text.classList.toggle('kimi-mod-error', failed);
    // In the row only when connecting failed or the comm is gone: `hidden` alone would not hide
    // it, since JupyterLab's `.jp-Button { display: inline-flex }` overrides the attribute.
    const shown = this._retry.parentNode === this.node;
    if (failed && !shown) {
      this.node.append(this._retry);
    } else if (!failed && shown) {
      this._retry.remove();
    }
  }

  private readonly _text = h('span', { className: 'kimi-connection-text' });
  private readonly _retry = h('button', {
    className: 'jp-Button jp-mod-minimal kimi-retry',
    text: 'Retry',
    attrs: { type: 'button', title: 'Connect to the kernel again' }
  });
}

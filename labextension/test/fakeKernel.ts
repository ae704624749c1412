import { Signal } from '@lumino/signaling';
import { expect } from 'vitest';

import type { KernelLike } from '../src/client';
import type { KernelMessage } from '../src/protocol';
import { providerInfo } from './messages';

export type Data = Record<string, unknown>;

/** A fake kernel: a comm target that exists once `%load_ext kimi_lab` ran (unless missing). */
export class FakeKernel {
  constructor(
    private readonly opts: {
      loaded?: boolean;
      installed?: boolean;
      protocol?: number;
      /** Replies by request type, before the defaults below (return null: no reply). */
      replies?: Record<string, (data: Data) => KernelMessage | null>;
    } = {}
  ) {
    this.loaded = opts.loaded ?? false;
  }

  loaded: boolean;
  executed: Data[] = [];
  sent: Data[] = [];
  opens = 0;
  readonly id = 'k1';
  readonly isDisposed = false;
  readonly statusChanged = new Signal<this, string>(this);
  readonly connectionStatusChanged = new Signal<this, string>(this);
  private comm: { onMsg: (m: unknown) => void; onClose: (m: unknown) => void; isDisposed: boolean } | null = null;

  createComm(target: string) {
    expect(target).toBe('kimi_lab');
    const comm = {
      isDisposed: false,
      onMsg: (_: unknown) => {},
      onClose: (_: unknown) => {},
      open: () => {
        this.opens += 1;
        if (!this.loaded) {
          queueMicrotask(() => comm.onClose({}));
        } else {
          this.comm = comm;
        }
      },
      send: (data: Data) => {
        this.sent.push(data);
        if (this.comm === comm) {
          queueMicrotask(() => this.reply(data));
        }
      },
      close: () => {
        comm.isDisposed = true;
      }
    };
    return comm;
  }

  requestExecute(content: Data) {
    this.executed.push(content);
    const installed = this.opts.installed ?? true;
    if (installed) {
      this.loaded = true;
    }
    const future = {
      onIOPub: (_: unknown) => {},
      done: Promise.resolve(
        installed
          ? { content: { status: 'ok' } }
          : { content: { status: 'error', ename: 'ModuleNotFoundError', evalue: "No module named 'kimi_lab'" } }
      )
    };
    return future;
  }

  emit(data: KernelMessage) {
    this.comm?.onMsg({ content: { data } });
  }

  private reply(data: Data) {
    const rid = data.request_id as string;
    const custom = this.opts.replies?.[data.type as string];
    if (custom) {
      const message = custom(data);
      if (message) {
        this.emit(message);
      }
      return;
    }
    if (data.type === 'hello') {
      this.emit({ type: 'hello', request_id: rid, protocol: this.opts.protocol ?? 1, version: '0.1', kernel_id: 'k1', chats: [], provider: 'moonshot', model: 'kimi-k2-thinking' });
    } else if (data.type === 'history') {
      this.emit({ type: 'history', request_id: rid, chat: data.chat as string, turns: [], restored: 0 });
    } else if (data.type === 'providers') {
      this.emit({
        type: 'providers',
        request_id: rid,
        providers: [providerInfo({ name: 'moonshot', model: 'kimi-k2-thinking', key_set: true })],
        fallback_key_env: 'KIMI_LAB_API_KEY',
        fallback_key_set: false
      });
    } else if (data.type === 'doctor') {
      this.emit({ type: 'doctor', request_id: rid, text: 'kimi_lab doctor\n✓ API key  from MOONSHOT_API_KEY\n⚠ question and tool round trip  not run  run `%kimi doctor -y` to send them', markdown: '', ok: true });
    } else if (data.type === 'models') {
      this.emit({ type: 'models', request_id: rid, provider: 'moonshot', models: ['kimi-k2.6', 'kimi-k3'], chosen: 'kimi-k2.6', error: '' });
    } else if (data.type === 'export') {
      this.emit({ type: 'error', request_id: rid, message: 'no such chat' });
    }
  }

  restart() {
    this.comm = null;
    this.loaded = false;
    this.statusChanged.emit('restarting');
    this.statusChanged.emit('idle');
  }
}

export const asKernel = (k: FakeKernel) => k as unknown as KernelLike;

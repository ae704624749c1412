import { describe, expect, it } from 'vitest';

import { KimiClient, NOT_INSTALLED } from '../src/client';
import { PROTOCOL_VERSION, type KernelMessage } from '../src/protocol';
import { FakeKernel, asKernel } from './fakeKernel';


describe('KimiClient', () => {
  it('opens the comm and says hello when the extension is loaded', async () => {
    const kernel = new FakeKernel({ loaded: true });
    const client = new KimiClient(asKernel(kernel));
    await client.connect();
    expect(client.status).toBe('ready');
    expect(client.hello?.model).toBe('kimi-k2-thinking');
    expect(kernel.executed).toEqual([]);
  });

  it('runs %load_ext kimi_lab silently and retries when the target is missing', async () => {
    const kernel = new FakeKernel();
    const client = new KimiClient(asKernel(kernel));
    await client.connect();
    expect(kernel.executed).toEqual([{ code: '%load_ext kimi_lab', silent: true, store_history: false }]);
    expect(kernel.opens).toBe(2);
    expect(client.status).toBe('ready');
  });

  it('says how to install kimi_lab when the module is missing', async () => {
    const kernel = new FakeKernel({ installed: false });
    const client = new KimiClient(asKernel(kernel));
    await expect(client.connect()).rejects.toThrow(NOT_INSTALLED);
    expect(client.status).toBe('error');
    expect(client.error).toBe(NOT_INSTALLED);
  });

  it('refuses a newer protocol', async () => {
    const client = new KimiClient(asKernel(new FakeKernel({ loaded: true, protocol: 2 })));
    await expect(client.connect()).rejects.toThrow(/protocol 2/);
  });

  it('says its protocol in hello, and shows the kernel\'s refusal of it', async () => {
    const refusal = 'the frontend speaks kimi_lab protocol 1, this kernel speaks 2: upgrade the kimi-lab JupyterLab extension';
    const kernel = new FakeKernel({
      loaded: true,
      replies: { hello: data => ({ type: 'error', request_id: data.request_id as string, message: refusal }) }
    });
    const client = new KimiClient(asKernel(kernel));
    await expect(client.connect()).rejects.toThrow(refusal);
    expect(kernel.sent[0]).toEqual({ type: 'hello', request_id: expect.any(String), protocol: PROTOCOL_VERSION });
    expect(client.status).toBe('error');
    expect(client.error).toBe(refusal);
  });

  it('sends unique request ids and dispatches replies and stream messages', async () => {
    const kernel = new FakeKernel({ loaded: true });
    const client = new KimiClient(asKernel(kernel));
    const seen: KernelMessage[] = [];
    client.messageReceived.connect((_, m) => seen.push(m));
    const history = await client.request({ type: 'history', chat: 'nb' });
    expect(history).toMatchObject({ type: 'history', chat: 'nb' });
    await expect(client.request({ type: 'export', chat: 'x' })).rejects.toThrow('no such chat');
    const a = await client.send({ type: 'ask', chat: 'nb', prompt: 'hi', options: {} });
    const b = await client.send({ type: 'ask', chat: 'nb', prompt: 'again', options: {} });
    expect(a).not.toBe(b);
    await client.send({ type: 'stop' }, a);
    expect(kernel.sent.slice(-3).map(m => [m.type, m.request_id])).toEqual([
      ['ask', a],
      ['ask', b],
      ['stop', a]
    ]);
    kernel.emit({ type: 'events', request_id: a, events: [{ type: 'content', text: 'x' }] });
    // The export's error went to its requester only: a failed side request is not the chat's error.
    expect(seen.map(m => m.type)).toEqual(['history', 'events']);
  });

  it('re-opens after a kernel restart and reports it', async () => {
    const kernel = new FakeKernel({ loaded: true });
    const client = new KimiClient(asKernel(kernel));
    await client.connect();
    const reconnected = new Promise<void>(resolve => client.reconnected.connect(() => resolve()));
    kernel.restart();
    await reconnected;
    expect(client.status).toBe('ready');
    expect(kernel.executed).toHaveLength(1);
  });
});

/**
 * The comm client against a real kernel through a running Jupyter server (with kimi_lab
 * installed in its kernels and a model its kernels reach). Run by
 * tests_browser/test_comm_client_e2e.py against the browser tests' JupyterLab and loopback model
 * server; by hand:
 *
 *   python -m kimi_lab.testing.server --api-key k &          # prints its base URL
 *   KIMI_LAB_BASE_URL=<url> KIMI_LAB_API_KEY=k jupyter server --port 18888 --IdentityProvider.token=TOKEN &
 *   KIMI_LAB_E2E_URL=http://127.0.0.1:18888 KIMI_LAB_E2E_TOKEN=TOKEN npm run test:e2e
 */
import { KernelManager, ServerConnection, type Kernel } from '@jupyterlab/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { KimiClient } from '../src/client';
import { normalizeProviders, type HistoryReply, type KernelMessage, type ProvidersReply } from '../src/protocol';
import { initialState, reduce, type ChatState } from '../src/reducer';

const url = process.env.KIMI_LAB_E2E_URL;
const token = process.env.KIMI_LAB_E2E_TOKEN ?? '';

if (!url) {
  throw new Error('Set KIMI_LAB_E2E_URL (and KIMI_LAB_E2E_TOKEN) to a running Jupyter server; see the comment above');
}

describe('KimiClient against a real kernel', () => {
  let manager: KernelManager;
  let kernel: Kernel.IKernelConnection;
  let client: KimiClient;

  beforeAll(async () => {
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: url,
      wsUrl: url.replace(/^http/, 'ws'),
      token,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket // Node 20 has no global WebSocket
    });
    manager = new KernelManager({ serverSettings });
    await manager.ready;
    kernel = await manager.startNew({ name: 'python3' });
    client = new KimiClient(kernel);
  }, 60_000);

  afterAll(async () => {
    client?.dispose();
    await kernel?.shutdown();
    manager?.dispose();
  });

  it('loads the extension with %load_ext, says hello, reads history and providers', async () => {
    await client.connect();
    expect(client.status).toBe('ready');
    expect(client.hello?.protocol).toBe(1);
    const history = await client.request<HistoryReply>({ type: 'history', chat: 'e2e' });
    expect(history.turns).toEqual([]);
    const providers = normalizeProviders(await client.request<ProvidersReply>({ type: 'providers' }));
    expect(providers.length).toBeGreaterThan(0);
  }, 60_000);

  it('re-opens the comm after a kernel restart', async () => {
    const reconnected = new Promise<void>(resolve => client.reconnected.connect(() => resolve()));
    await kernel.restart();
    await reconnected;
    expect(client.status).toBe('ready');
  }, 60_000);

  it('reports a bad request as an error reply', async () => {
    await expect(client.request({ type: 'stop' })).rejects.toThrow(/no ask/);
  }, 30_000);

  it('streams an ask into the reducer and restores it from history', async () => {
    const chat = `e2e-${Date.now()}`;
    let state: ChatState = initialState(chat);
    const messages: KernelMessage[] = [];
    let finished!: () => void;
    const done = new Promise<void>(resolve => (finished = resolve));
    const requestId = 'e2e-ask-1';
    state = reduce(state, { type: 'local/ask', request_id: requestId, prompt: 'Say hello' });
    client.messageReceived.connect((_, m) => {
      if (m.request_id !== requestId) {
        return;
      }
      messages.push(m);
      state = reduce(state, m);
      if (m.type === 'result' || m.type === 'error') {
        finished();
      }
    });
    await client.send({ type: 'ask', chat, prompt: 'Say hello', options: {} }, requestId);
    await done;
    const turn = state.turns[0];
    expect(messages.some(m => m.type === 'events')).toBe(true);
    expect(turn.error).toBeNull();
    expect(turn.done).toBe(true);
    expect(turn.answer.length).toBeGreaterThan(0);

    const history = await client.request<HistoryReply>({ type: 'history', chat });
    const restored = reduce(initialState(chat), history);
    expect(restored.turns).toHaveLength(1);
    expect(restored.turns[0].prompt).toBe('Say hello');
    expect(restored.turns[0].answer).toBe(turn.answer);
    expect(restored.turns[0].done).toBe(true);
  }, 60_000);
});

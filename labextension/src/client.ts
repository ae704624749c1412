/**
 * The comm client: one per kernel. Opens the `kimi_lab` comm (loading the extension in the
 * kernel when the target is missing), stamps request ids, dispatches the kernel's messages,
 * and re-opens the comm after a kernel restart.
 */

import type { Kernel, KernelMessage as JKernelMessage } from '@jupyterlab/services';
import type { JSONObject } from '@lumino/coreutils';
import { Signal, type ISignal } from '@lumino/signaling';

import { errorText } from './dom';
import {
  COMM_TARGET,
  PROTOCOL_VERSION,
  REPLY_TYPES,
  isKernelMessage,
  type FrontendRequest,
  type HelloReply,
  type HelloRequest,
  type KernelMessage,
  type RequestBody
} from './protocol';

export const NOT_INSTALLED =
  "kimi_lab is not installed in this kernel's environment: pip install kimi_lab";

export type ClientStatus = 'idle' | 'connecting' | 'ready' | 'error' | 'disposed';

/** The part of a kernel connection the client uses (a real one, or a fake in tests). */
export type KernelLike = Pick<
  Kernel.IKernelConnection,
  'id' | 'createComm' | 'requestExecute' | 'statusChanged' | 'connectionStatusChanged' | 'isDisposed'
>;

interface Pending {
  resolve: (message: KernelMessage) => void;
  reject: (error: Error) => void;
}

/** Thrown (or reported) when the comm cannot be opened. */
export class ClientError extends Error {}

let counter = 0;

/** A request id unique in this page (and so per comm). */
export function newRequestId(): string {
  counter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `r${Date.now().toString(36)}-${counter}-${random}`;
}

export class KimiClient {
  constructor(kernel: KernelLike) {
    this.kernel = kernel;
    kernel.statusChanged.connect(this._onStatus, this);
    kernel.connectionStatusChanged.connect(this._onConnection, this);
  }

  readonly kernel: KernelLike;

  /** Every protocol message the kernel sends. */
  get messageReceived(): ISignal<this, KernelMessage> {
    return this._messageReceived;
  }

  /** Connection status changes (`ready`, `error` with `error`, …). */
  get statusChanged(): ISignal<this, ClientStatus> {
    return this._statusChanged;
  }

  /** The comm was opened again after a kernel restart or reconnect: restore views. */
  get reconnected(): ISignal<this, void> {
    return this._reconnected;
  }

  get status(): ClientStatus {
    return this._status;
  }

  /** Why the status is `error`. */
  get error(): string | null {
    return this._error;
  }

  /** The kernel's `hello` reply, once connected. */
  get hello(): HelloReply | null {
    return this._hello;
  }

  get isDisposed(): boolean {
    return this._status === 'disposed';
  }

  /** Open the comm (once; concurrent calls share the attempt). */
  connect(): Promise<void> {
    if (this._status === 'ready' && this._comm) {
      return Promise.resolve();
    }
    if (!this._connecting) {
      this._connecting = this._connect().finally(() => {
        this._connecting = null;
      });
    }
    return this._connecting;
  }

  /** Send a request; resolves to its request id once sent. */
  async send(body: RequestBody, requestId: string = newRequestId()): Promise<string> {
    await this.connect();
    const comm = this._comm;
    if (!comm) {
      throw new ClientError(this._error ?? 'The kimi_lab comm is not open.');
    }
    const message = { ...body, request_id: requestId } as FrontendRequest;
    comm.send(message as unknown as JSONObject);
    return requestId;
  }

  /** Send a request that has one reply (`hello`, `history`, `chats`, `providers`, `export`). */
  async request<T extends KernelMessage = KernelMessage>(body: RequestBody): Promise<T> {
    const requestId = newRequestId();
    const reply = new Promise<KernelMessage>((resolve, reject) => {
      this._pending.set(requestId, { resolve, reject });
    });
    try {
      await this.send(body, requestId);
    } catch (error) {
      this._pending.delete(requestId);
      throw error;
    }
    return (await reply) as T;
  }

  dispose(): void {
    if (this._status === 'disposed') {
      return;
    }
    this.kernel.statusChanged.disconnect(this._onStatus, this);
    this.kernel.connectionStatusChanged.disconnect(this._onConnection, this);
    this._rejectPending('The kernel connection was closed.');
    this._closeComm();
    this._setStatus('disposed');
    Signal.clearData(this);
  }

  // -------------------------------------------------------------------------------------

  private async _connect(): Promise<void> {
    this._setStatus('connecting');
    try {
      let hello = await this._open();
      if (hello === null) {
        await this._loadExtension();
        hello = await this._open();
        if (hello === null) {
          throw new ClientError(
            'The kernel did not open the kimi_lab comm, even after %load_ext kimi_lab.'
          );
        }
      }
      if (typeof hello.protocol === 'number' && hello.protocol > PROTOCOL_VERSION) {
        throw new ClientError(
          `The kernel speaks kimi_lab protocol ${hello.protocol}; this sidebar knows only ${PROTOCOL_VERSION}: update the kimi-lab JupyterLab extension.`
        );
      }
      this._hello = hello;
      this._setStatus('ready');
    } catch (error) {
      const message = errorText(error);
      this._fail(message);
      throw error instanceof ClientError ? error : new ClientError(message);
    }
  }

  /**
   * Open a comm and say `hello` on it. Resolves to the kernel's `hello` reply, or to null if
   * the kernel closed the comm at once (its answer when the target is not registered).
   */
  private _open(): Promise<HelloReply | null> {
    return new Promise<HelloReply | null>((resolve, reject) => {
      let comm: Kernel.IComm;
      try {
        comm = this.kernel.createComm(COMM_TARGET);
      } catch (error) {
        reject(new ClientError(`Could not create the kimi_lab comm: ${String(error)}`));
        return;
      }
      const probe = newRequestId();
      let settled = false;
      comm.onClose = () => {
        if (this._comm === comm) {
          this._comm = null;
          this._rejectPending('The kimi_lab comm was closed by the kernel.');
          if (this._status === 'ready') {
            this._setStatus('idle');
          }
        }
        if (!settled) {
          settled = true;
          resolve(null);
        }
      };
      comm.onMsg = (msg: JKernelMessage.ICommMsgMsg) => {
        const data: unknown = msg.content.data;
        if (!settled && isKernelMessage(data) && data.request_id === probe) {
          settled = true;
          if (data.type === 'hello') {
            this._comm = comm;
            resolve(data);
          } else if (data.type === 'error') {
            reject(new ClientError(data.message));
          } else {
            reject(new ClientError(`Unexpected reply to hello: ${data.type}`));
          }
          return;
        }
        this._dispatch(data);
      };
      try {
        comm.open();
        // Our protocol number: a kernel that speaks another refuses with an error saying what to upgrade.
        comm.send({ type: 'hello', request_id: probe, protocol: PROTOCOL_VERSION } satisfies HelloRequest);
      } catch (error) {
        settled = true;
        reject(new ClientError(`Could not open the kimi_lab comm: ${String(error)}`));
      }
    });
  }

  /** Run `%load_ext kimi_lab` silently; throws with the install hint if it is missing. */
  private async _loadExtension(): Promise<void> {
    const future = this.kernel.requestExecute(
      { code: '%load_ext kimi_lab', silent: true, store_history: false },
      true
    );
    let failure: { ename: string; evalue: string } | null = null;
    future.onIOPub = (msg: JKernelMessage.IIOPubMessage) => {
      if (msg.header.msg_type === 'error') {
        const content = msg.content as JKernelMessage.IErrorMsg['content'];
        failure = { ename: content.ename, evalue: content.evalue };
      }
    };
    const reply = await future.done;
    const content = reply.content;
    if (content.status === 'error') {
      failure = { ename: content.ename, evalue: content.evalue };
    }
    if (failure !== null) {
      const { ename, evalue } = failure;
      if (ename === 'ModuleNotFoundError' || /No module named/.test(evalue)) {
        throw new ClientError(NOT_INSTALLED);
      }
      throw new ClientError(`%load_ext kimi_lab failed: ${ename}: ${evalue}`);
    }
  }

  private _dispatch(data: unknown): void {
    if (!isKernelMessage(data)) {
      return;
    }
    const requestId = data.request_id;
    const pending = requestId === null ? undefined : this._pending.get(requestId);
    if (requestId !== null && pending && (REPLY_TYPES.has(data.type) || data.type === 'error')) {
      this._pending.delete(requestId);
      if (data.type === 'error') {
        // The requester reports it (or, as the model list, does without): not the chat's error too.
        pending.reject(new ClientError(data.message));
        return;
      }
      pending.resolve(data);
    }
    this._messageReceived.emit(data);
  }

  private _rejectPending(message: string): void {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const p of pending) {
      p.reject(new ClientError(message));
    }
  }

  private _fail(message: string): void {
    this._error = message;
    this._closeComm();
    this._setStatus('error');
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel is gone already.
      }
    }
  }

  private _setStatus(status: ClientStatus): void {
    if (status !== 'error') {
      this._error = status === 'ready' || status === 'connecting' ? null : this._error;
    }
    if (this._status !== status || status === 'error') {
      this._status = status;
      this._statusChanged.emit(status);
    }
  }

  private _lostKernel(): void {
    if (this._status === 'disposed') {
      return;
    }
    this._needsReopen = this._needsReopen || this._status === 'ready' || this._comm !== null;
    this._comm = null;
    this._rejectPending('The kernel restarted.');
    if (this._status === 'ready') {
      this._setStatus('idle');
    }
  }

  private _reopen(): void {
    if (!this._needsReopen || this._status === 'disposed' || this._connecting) {
      return;
    }
    this._needsReopen = false;
    this.connect().then(
      () => this._reconnected.emit(undefined),
      () => {
        // The status is `error`; the panel shows it.
      }
    );
  }

  private _onStatus(_: unknown, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this._lostKernel();
    } else if (status === 'idle' && this._needsReopen) {
      this._reopen();
    }
  }

  private _onConnection(_: unknown, status: Kernel.ConnectionStatus): void {
    if (status === 'disconnected') {
      this._lostKernel();
    } else if (status === 'connected' && this._needsReopen) {
      this._reopen();
    }
  }

  private _comm: Kernel.IComm | null = null;
  private _connecting: Promise<void> | null = null;
  private _status: ClientStatus = 'idle';
  private _error: string | null = null;
  private _hello: HelloReply | null = null;
  private _needsReopen = false;
  private readonly _pending = new Map<string, Pending>();
  private readonly _messageReceived = new Signal<this, KernelMessage>(this);
  private readonly _statusChanged = new Signal<this, ClientStatus>(this);
  private readonly _reconnected = new Signal<this, void>(this);
}

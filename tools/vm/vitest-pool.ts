// A vitest pool for suites that run inside the test VM (tools/vm/run): vitest's "forks" pool,
// minus its hard-coded start timeouts.
//
// Why: vitest 4 gives a new worker process 60 s (START_TIMEOUT, plus 90 s for the whole runner
// start) to load its runtime and answer "started", and neither bound is configurable. Under
// qemu TCG the worker's start is CPU-bound: 5-18 s measured in the guest while this 2-core host
// ran at load 10-17, and it grows with the host's load, so a busy host fails the run with
// "[vitest-pool-runner]: Timeout waiting for worker to respond" before a single test ran.
// Pre-bundling test files would not help: the window closes before the test file is imported.
//
// How: the worker is vitest's own ForksPoolWorker. This wrapper answers vitest's "start" at once
// and holds back every later request until the real worker has answered "started"; the real
// answer is awaited against our own, generous bound. RPC traffic (module fetches, reports)
// passes through untouched in both directions, so the worker's start-up can use it.
//
// Use in a vitest config: `test: { pool: vmForksPool() }`.
import { EventEmitter } from 'node:events';
import { ForksPoolWorker, type PoolOptions, type PoolRunnerInitializer, type PoolWorker, type WorkerRequest } from 'vitest/node';

/** Default bound for the real worker's start (GRAPHDRIVER_VM_WORKER_START_TIMEOUT, seconds). */
const DEFAULT_START_SECONDS = 900;

export interface VmForksPoolOptions {
  /** How long the real worker may take to answer "started" (ms). */
  startTimeout?: number;
}

interface Message {
  __vitest_worker_request__?: boolean;
  __vitest_worker_response__?: boolean;
  type?: string;
  error?: unknown;
}

const isRequest = (m: unknown): m is Message => (m as Message | null)?.__vitest_worker_request__ === true;
const isStarted = (m: unknown): m is Message =>
  (m as Message | null)?.__vitest_worker_response__ === true && (m as Message).type === 'started';

class VmForksWorker implements PoolWorker {
  private readonly inner: ForksPoolWorker;
  /** Listeners of 'message' (all of them) and of 'error' (ours; the child's go to inner). */
  private readonly events = new EventEmitter();
  /** Requests held back while the real worker starts; null once it has answered. */
  private held: WorkerRequest[] | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    options: PoolOptions,
    private readonly startTimeout: number,
  ) {
    this.inner = new ForksPoolWorker(options);
  }

  get cacheFs(): boolean {
    return this.inner.cacheFs;
  }

  on(event: string, callback: (arg: unknown) => void): void {
    if (event !== 'message') this.inner.on(event, callback);
    if (event === 'message' || event === 'error') this.events.on(event, callback);
  }

  off(event: string, callback: (arg: unknown) => void): void {
    if (event !== 'message') this.inner.off(event, callback);
    if (event === 'message' || event === 'error') this.events.off(event, callback);
  }

  deserialize(data: unknown): unknown {
    return this.inner.deserialize(data);
  }

  async start(): Promise<void> {
    await this.inner.start();
    this.inner.on('message', this.fromWorker);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.held = null;
    await this.inner.stop();
  }

  send(message: WorkerRequest): void {
    if (isRequest(message) && message.type === 'start') {
      this.inner.send(message);
      this.held = [];
      this.timer = setTimeout(() => {
        this.held = null;
        const s = Math.round(this.startTimeout / 1000);
        this.events.emit(
          'error',
          new Error(`[vm-forks pool] the worker did not start within ${s} s (GRAPHDRIVER_VM_WORKER_START_TIMEOUT)`),
        );
      }, this.startTimeout);
      // vitest's own bound now covers only this answer
      setImmediate(() => this.events.emit('message', { type: 'started', __vitest_worker_response__: true }));
      return;
    }
    // "run", "collect", "stop" must not reach the worker before its start is done (it handles
    // messages concurrently); RPC answers must, or a start that waits on one would never end.
    if (this.held && isRequest(message)) this.held.push(message);
    else this.inner.send(message);
  }

  private readonly fromWorker = (raw: unknown): void => {
    const message = this.inner.deserialize(raw);
    if (this.held && isStarted(message)) {
      clearTimeout(this.timer);
      const held = this.held;
      this.held = null;
      if (message.error) {
        // the worker's setup failed: fail the test file with its cause
        const cause = message.error as { message?: string };
        this.events.emit('error', new Error(`[vm-forks pool] the worker failed to start: ${cause?.message ?? String(cause)}`, { cause }));
        return;
      }
      for (const m of held) this.inner.send(m);
      return;
    }
    this.events.emit('message', raw);
  };
}

/** vitest's forks pool without its 60/90 s start timeouts (see the top of this file). */
export function vmForksPool(options: VmForksPoolOptions = {}): PoolRunnerInitializer {
  const fromEnv = Number(process.env.GRAPHDRIVER_VM_WORKER_START_TIMEOUT);
  const startTimeout = options.startTimeout ?? (fromEnv > 0 ? fromEnv * 1000 : DEFAULT_START_SECONDS * 1000);
  const name = 'vm-forks';
  return { name, createPoolWorker: (o) => new VmForksWorker(name, o, startTimeout) };
}

// SIGINT, SIGTERM, SIGHUP and a closed stdout, turned into one AbortSignal every command
// passes down to the library: the command stops, releases what it took (references,
// temporary files, a half-applied layer), and the CLI exits with the signal's status
// (128 + its number) or 1 for a closed stdout, after one line on stderr. A second signal
// while the first is being handled exits at once.
//
// bin.ts starts watching before it loads the rest of the CLI (the drivers take a moment to
// load), so a signal in that window is answered the same way. Hence no imports here.

const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type Watched = keyof typeof SIGNALS;

/** What interrupted a command, as {@link Interrupts.interruption} reports it. */
export interface Interruption {
  /**
   * ERR_INTERRUPTED for a signal, ERR_STDOUT_CLOSED for a closed stdout (or another failure of
   * it), ERR_NO_SPACE for a full one (cli-errors.ts).
   */
  code: 'ERR_INTERRUPTED' | 'ERR_STDOUT_CLOSED' | 'ERR_NO_SPACE';
  /** The one line printed for it, e.g. "interrupted by SIGINT". */
  message: string;
  /** The exit status: 128 + the signal's number (130 SIGINT, 143 SIGTERM, 129 SIGHUP), 1 for stdout. */
  status: number;
}

/**
 * SIGINT, SIGTERM, SIGHUP and a closed stdout watched for one command run, as one
 * AbortSignal. Made by the CLI's bin before it loads the rest (so an early Ctrl-C is answered
 * too) and handed to {@link main}; the process's signal handlers stay installed until
 * {@link Interrupts.dispose}.
 */
export interface Interrupts {
  /** Aborted (its reason an Error carrying the {@link Interruption}'s code) when the command is interrupted. */
  readonly signal: AbortSignal;
  /** What to report (code, message) and the exit status, once something interrupted the command. */
  readonly interruption: Interruption | undefined;
  /**
   * The command's point of no return (a layer made, a mount handed out): false if it was
   * interrupted before (the command undoes its work then). After it, a signal no longer
   * interrupts the command, which is only finishing; a second one still exits at once.
   * Without it, a signal between "done" and the exit would report a result as interrupted
   * and leave what it made (a reference, a layer) to nobody.
   */
  commit(): boolean;
  /** Removes the signal and stdout handlers; the signal is no longer aborted after this. */
  dispose(): void;
}

export function watchInterrupts(): Interrupts {
  const controller = new AbortController();
  let interruption: Interrupts['interruption'];
  let committed = false;
  let lateSignals = 0;
  const interrupt = (i: Interruption, cause?: unknown) => {
    if (interruption || committed) return;
    interruption = i;
    controller.abort(Object.assign(new Error(i.message, { cause }), { code: i.code }));
  };
  const handlers = new Map<Watched, () => void>();
  for (const name of Object.keys(SIGNALS) as Watched[]) {
    const handler = () => {
      if (interruption) process.exit(interruption.status); // asked twice: stop waiting
      if (committed && lateSignals++ > 0) process.exit(SIGNALS[name]);
      interrupt({ code: 'ERR_INTERRUPTED', message: `interrupted by ${name}`, status: SIGNALS[name] });
    };
    handlers.set(name, handler);
    process.on(name, handler);
  }
  // The reader of stdout went away (`| head`), or stdout failed: nothing more can be delivered.
  // A full stdout (a full disk, /dev/full) is ERR_NO_SPACE, as a full disk is anywhere else.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOSPC') return interrupt({ code: 'ERR_NO_SPACE', message: `cannot write stdout: ${err.message}`, status: 1 }, err);
    const why = err.code === 'EPIPE' ? 'the reader of stdout closed it before the end of the output' : `stdout failed: ${err.message}`;
    interrupt({ code: 'ERR_STDOUT_CLOSED', message: why, status: 1 }, err);
  };
  process.stdout.on('error', onStdoutError);
  return {
    signal: controller.signal,
    get interruption() {
      return interruption;
    },
    commit() {
      if (interruption) return false;
      committed = true;
      return true;
    },
    dispose() {
      for (const [name, handler] of handlers) process.off(name, handler);
      process.stdout.off('error', onStdoutError);
    },
  };
}

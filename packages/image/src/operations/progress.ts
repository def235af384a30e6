// Progress events of pull/push/import/export, for a progress bar or a log.

export type ImageProgressEvent =
  /** What will be transferred: layers to fetch (or send) and their compressed bytes, when known. */
  | { type: 'plan'; layers: number; bytes: number }
  /** A layer starts to be applied (import) or written (export). */
  | { type: 'layer'; index: number; count: number; digest: string }
  /** Bytes moved: downloaded or read (import), written out (export). */
  | { type: 'bytes'; bytes: number }
  /** Entries unpacked so far in the layer being applied. */
  | { type: 'entries'; entries: number }
  /** A layer is done: applied, found present, written, or found at the destination. */
  | { type: 'layer-done'; index: number; id: string; skipped: boolean };

export type ProgressListener = (event: ImageProgressEvent) => void;

/** Common options of the four operations. */
export interface TransferOptions {
  /**
   * The image state directory of the store (`<root>/image`): the blob cache of partial
   * downloads and what each pulled layer was pulled as. Without it, nothing is cached or
   * recorded (no resume, no blob reuse on push). It belongs to the store: one process at a
   * time (the store's lock), since an import sweeps the temporaries left in it.
   */
  stateDir?: string;
  /** Parallel blob transfers (default 3). */
  jobs?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

// Progress events of pull/push/import/export, for a progress bar or a log.

/** One progress event of pull, push, import or export; `type` tells which. */
export type ImageProgressEvent =
  /** What will be transferred: layers to fetch (or send) and their compressed bytes, when known. */
  | {
      /** Sent once, first. */
      type: 'plan';
      /** Layers to transfer. */
      layers: number;
      /** Their compressed bytes in total (0 when not known ahead). */
      bytes: number;
    }
  /** A layer starts to be applied (import) or written (export). */
  | {
      /** Sent as each layer starts. */
      type: 'layer';
      /** The layer's position, 0 for the base. */
      index: number;
      /** Layers in the image. */
      count: number;
      /** The layer blob's digest. */
      digest: string;
    }
  /** Bytes moved: downloaded or read (import), written out (export). */
  | {
      /** Sent as data moves. */
      type: 'bytes';
      /** Bytes moved since the previous `bytes` event (add them up). */
      bytes: number;
    }
  /** Entries unpacked so far in the layer being applied. */
  | {
      /** Sent while a layer is applied. */
      type: 'entries';
      /** Tar entries applied so far in the current layer (a running count, not a delta). */
      entries: number;
    }
  /** A layer is done: applied, found present, written, or found at the destination. */
  | {
      /** Sent as each layer ends. */
      type: 'layer-done';
      /** The layer's position, 0 for the base. */
      index: number;
      /** The layer's id in the store. */
      id: string;
      /** True when nothing was transferred: the store or the destination had it already. */
      skipped: boolean;
    };

/** Receives progress events; called synchronously during the transfer, so it should return quickly. */
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
  /** Cancels the operation: it rejects with an AbortError and leaves no half-made layer or blob behind. */
  signal?: AbortSignal;
  /** Progress events, for a progress bar or a log. */
  onProgress?: ProgressListener;
}

// The uncompressed tar of a layer blob, for the apply, with the digest of every byte of it
// (the layer's diff ID). gzip goes through a file behind its inflater when the store has a
// place for one (compression/behind-file.ts), else through a stream.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { type Compression, decompressAuto, inflateBehind, peekCompression } from '../compression/decompress.js';
import { DigestCounter } from '../model/digest.js';

/** A layer's tar being read. */
export interface LayerTar {
  /** The compression found in the blob. */
  compression: Compression;
  /** The tar, for the apply (which may stop at the end-of-archive marker). */
  input: AsyncIterable<Uint8Array>;
  /** Reads what the apply left, so that the digest covers every byte. */
  rest(): Promise<void>;
  /** The digest of all of it; only after {@link LayerTar.rest}. */
  digest(): string;
  /** Stops reading (an inflater behind it included). */
  close(): void;
}

/**
 * Opens the tar inside `blob` (plain, gzip or zstd). With `inflateDir`, gzip is inflated
 * into an unlinked file there and read behind the program writing it.
 */
export async function openLayerTar(blob: Readable, inflateDir?: string): Promise<LayerTar> {
  let compressed = blob;
  if (inflateDir !== undefined) {
    const { compression, input } = await peekCompression(blob);
    if (compression === 'gzip') {
      const hash = createHash('sha256');
      const behind = await inflateBehind(input, inflateDir, { onChunk: (c) => hash.update(c) });
      if (behind) {
        let digest: string | undefined;
        return {
          compression,
          input: behind.file,
          rest: async () => {
            for await (const _ of behind.file.chunks({ reuse: 1 })) {
              // read to the end: the digest covers every byte
            }
          },
          digest: () => (digest ??= `sha256:${hash.digest('hex')}`),
          close: () => behind.stop(),
        };
      }
    }
    compressed = input;
  }
  const { compression, stream } = await decompressAuto(compressed);
  const tar = new DigestCounter();
  stream.on('error', (err) => tar.destroy(err));
  stream.pipe(tar);
  return {
    compression,
    // an iterable that does not destroy the stream when the reader stops early
    input: { [Symbol.asyncIterator]: () => tar.iterator({ destroyOnReturn: false }) },
    rest: async () => {
      for await (const _ of tar.iterator({ destroyOnReturn: true })) {
        // drain: the digest covers every byte
      }
    },
    digest: () => tar.digest,
    close: () => tar.destroy(),
  };
}

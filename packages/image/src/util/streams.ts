// Reading a stream to its end: whole (a small, bounded blob) or only hashed.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestCounter } from '../model/digest.js';

/** All of `stream` in memory; only for blobs already bounded by their descriptor. */
export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** The sha256 digest and length of everything `stream` yields. */
export async function digestStream(stream: Readable): Promise<{ digest: string; bytes: number }> {
  const counter = new DigestCounter();
  counter.resume(); // nothing reads the counter's output: let it flow
  await pipeline(stream, counter);
  return { digest: counter.digest, bytes: counter.bytes };
}

// The four operations by reference: pull and push are import and export with a registry at
// the other end (one code path), and importImage/exportImage take any transport by name.
import type { Driver } from '@graphdriver/core';
import { parseDockerReference, parseImageReference, type ImageReference } from '../reference.js';
import { openDestination, openSource, type RegistryOptions } from '../transports/open.js';
import { exportImage, type ExportOptions, type ExportResult } from './export.js';
import { importImage, type ImportOptions, type ImportResult } from './import.js';

const asRef = (r: string | ImageReference) => (typeof r === 'string' ? parseImageReference(r) : r);

/** Imports the image at `ref` (any transport) into `driver`. */
export async function importFrom(
  driver: Driver,
  ref: string | ImageReference,
  opts: ImportOptions & RegistryOptions = {},
): Promise<ImportResult> {
  const source = await openSource(asRef(ref), opts);
  try {
    return await importImage(driver, source, opts);
  } finally {
    await source.close();
  }
}

/** Exports the chain ending at layer `id` to `ref` (any transport). */
export async function exportTo(
  driver: Driver,
  id: string,
  ref: string | ImageReference,
  opts: ExportOptions & RegistryOptions = {},
): Promise<ExportResult> {
  const dest = await openDestination(asRef(ref), opts);
  try {
    return await exportImage(driver, id, dest, opts);
  } finally {
    await dest.close();
  }
}

/** `pull REF` = import from `docker://REF`. */
export function pull(driver: Driver, ref: string, opts: ImportOptions & RegistryOptions = {}): Promise<ImportResult> {
  return importFrom(driver, { transport: 'docker', ref: parseDockerReference(ref) }, opts);
}

/** `push ID REF` = export to `docker://REF`. */
export function push(driver: Driver, id: string, ref: string, opts: ExportOptions & RegistryOptions = {}): Promise<ExportResult> {
  return exportTo(driver, id, { transport: 'docker', ref: parseDockerReference(ref) }, opts);
}

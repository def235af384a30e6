// "oci:DIR[:TAG]", the spelling skopeo and umoci use for an OCI image layout on disk.
import { resolve } from 'node:path';
import { GraphDriverError } from '@graphdriver/core';
import { CliErrorCode } from '../cli-errors.js';

export interface OciReference {
  /** Absolute path of the layout directory. */
  dir: string;
  /** The `org.opencontainers.image.ref.name` of the image, if one was named. */
  tag?: string;
}

// The OCI image-layout ref.name grammar (components joined by separators).
const TAG_RE = /^[A-Za-z0-9_-]+(?:(?:[.:/@+]|--)[A-Za-z0-9_-]+)*$/;

/** Parses "oci:DIR[:TAG]". As in skopeo, the first ":" after DIR starts the tag. */
export function parseOciReference(text: string): OciReference {
  const bad = (why: string) =>
    new GraphDriverError(CliErrorCode.Usage, `invalid image reference ${JSON.stringify(text)}: ${why} (expected oci:DIR[:TAG])`);
  if (!text.startsWith('oci:')) throw bad('only the oci: transport is supported');
  const rest = text.slice('oci:'.length);
  const colon = rest.indexOf(':');
  const dir = colon < 0 ? rest : rest.slice(0, colon);
  const tag = colon < 0 ? undefined : rest.slice(colon + 1);
  if (!dir) throw bad('no directory');
  if (tag !== undefined && !TAG_RE.test(tag)) throw bad(`tag ${JSON.stringify(tag)} is not a valid reference name`);
  return { dir: resolve(dir), ...(tag !== undefined ? { tag } : {}) };
}

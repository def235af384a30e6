// From a parsed reference to the ImageSource / ImageDestination of its transport.
import { invalidImage } from '../errors.js';
import { formatImageReference, type ImageReference } from '../reference.js';
import { DockerArchiveDestination, DockerArchiveSource } from './docker-archive.js';
import { dirFiles } from './blob-files.js';
import { OciArchiveDestination, openOciArchiveSource } from './oci-archive.js';
import { OciLayoutDestination, OciLayoutSource } from './oci-layout.js';
import type { ImageDestination, ImageSource } from './types.js';
import { openDockerDestination, openDockerSource, type RegistryOptions } from './docker.js';

export type { RegistryOptions };

/**
 * Opens the image `ref` names for reading (`opts` matter for `docker://` only). Nothing is
 * read yet beyond what finding the image needs (an archive's headers); the caller must
 * `close()` the source. A missing or malformed layout or archive is ERR_IMAGE_INVALID.
 */
export async function openSource(ref: ImageReference, opts: RegistryOptions = {}): Promise<ImageSource> {
  const name = formatImageReference(ref);
  switch (ref.transport) {
    case 'oci':
      return new OciLayoutSource(dirFiles(ref.dir), name, ref.tag);
    case 'oci-archive':
      return openOciArchiveSource(ref.file, ref.tag, name);
    case 'docker-archive':
      return DockerArchiveSource.open(ref.file, ref.ref, name);
    case 'docker':
      return openDockerSource(ref.ref, opts);
  }
}

/**
 * Opens `ref` for writing an image (`opts` matter for `docker://` only). Nothing becomes
 * visible before the destination's `commit()`; the caller must `close()` it, which removes its
 * temporary files (an archive's staging directory, unfinished blobs). A path that cannot be written is ERR_INVALID_OPTION; a
 * docker-archive named by digest is ERR_IMAGE_INVALID.
 */
export async function openDestination(ref: ImageReference, opts: RegistryOptions = {}): Promise<ImageDestination> {
  const name = formatImageReference(ref);
  switch (ref.transport) {
    case 'oci':
      return new OciLayoutDestination(ref.dir, name, ref.tag);
    case 'oci-archive':
      return OciArchiveDestination.create(ref.file, ref.tag, name);
    case 'docker-archive':
      if (ref.ref?.digest !== undefined) throw invalidImage(name, 'a docker-archive is tagged by name:tag, not by digest');
      return DockerArchiveDestination.create(ref.file, ref.ref, name);
    case 'docker':
      return openDockerDestination(ref.ref, opts);
  }
}

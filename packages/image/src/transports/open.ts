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

// `oci-archive:FILE[:TAG]`: an OCI layout in a tar file. Read in place (the archive's members
// by offset); written as a layout in a staging directory next to FILE, then archived and
// renamed over FILE at commit.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pathError } from '../errors.js';
import { writeArchive, type ArchiveMember } from '../archive/write-archive.js';
import { archiveFiles } from './blob-files.js';
import { LAYOUT_FILE, OciLayoutDestination, OciLayoutSource } from './oci-layout.js';

export async function openOciArchiveSource(file: string, tag: string | undefined, name: string): Promise<OciLayoutSource> {
  return new OciLayoutSource(await archiveFiles(file), name, tag);
}

/**
 * Writes an image as an oci-archive: an OCI layout staged in a directory beside `file`, then
 * written as one tar and renamed into place at commit.
 */
export class OciArchiveDestination extends OciLayoutDestination {
  private constructor(
    private readonly file: string,
    staging: string,
    name: string,
    tag: string | undefined,
  ) {
    super(staging, name, tag);
  }

  /**
   * Makes the staging directory beside `file` (ERR_INVALID_OPTION when it cannot be written).
   * `tag` is the image's ref name in the archive's index.json; `name` the reference, for messages.
   */
  static async create(file: string, tag: string | undefined, name: string): Promise<OciArchiveDestination> {
    const staging = await mkdtemp(join(dirname(file), `.${basename(file)}.staging-`)).catch((err: unknown) => {
      throw pathError(err, `cannot write the oci-archive ${file}`);
    });
    return new OciArchiveDestination(file, staging, name, tag);
  }

  override async commit(signal?: AbortSignal): Promise<void> {
    await super.commit();
    const blobs = (await readdir(join(this.dir, 'blobs', 'sha256'))).filter((n) => !n.startsWith('.')).sort();
    const members: ArchiveMember[] = [
      { name: LAYOUT_FILE, path: join(this.dir, LAYOUT_FILE) },
      { name: 'index.json', path: join(this.dir, 'index.json') },
      { name: 'blobs', dir: true },
      { name: 'blobs/sha256', dir: true },
      ...blobs.map((b) => ({ name: `blobs/sha256/${b}`, path: join(this.dir, 'blobs', 'sha256', b) })),
    ];
    await writeArchive(this.file, members, { signal });
  }

  /** Removes the staging directory; the archive exists only if {@link OciArchiveDestination.commit} ran. */
  override async close(): Promise<void> {
    await super.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

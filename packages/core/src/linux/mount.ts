// mount(8) and umount(8): the one typed wrapper drivers mount and unmount through.
import { tool } from '../exec.js';

const mountTool = tool('mount');
const umountTool = tool('umount');

/** How {@link mount} calls mount(8). */
export interface MountOptions {
  /** Filesystem type (-t), e.g. 'xfs'; mount(8) probes when absent. */
  type?: string;
  /** Comma-separated options (-o), e.g. 'nouuid,prjquota'. */
  options?: string;
}

/** Mounts `source` at `target`. */
export async function mount(source: string, target: string, opts: MountOptions = {}): Promise<void> {
  await mountTool.run([...(opts.type ? ['-t', opts.type] : []), ...(opts.options ? ['-o', opts.options] : []), source, target]);
}

/** Bind-mounts `source` at `target` (`mount --bind`). */
export async function bindMount(source: string, target: string): Promise<void> {
  await mountTool.run(['--bind', source, target]);
}

/** Sets the propagation of the mount at `target`, e.g. 'private' (`mount --make-private`). */
export async function makeMount(target: string, propagation: 'private' | 'rprivate' | 'shared' | 'slave'): Promise<void> {
  await mountTool.run([`--make-${propagation}`, target]);
}

/** Unmounts `target`; `lazy` detaches it now and finishes when it is no longer busy (-l). */
export async function unmount(target: string, opts: { lazy?: boolean } = {}): Promise<void> {
  await umountTool.run([...(opts.lazy ? ['-l'] : []), target]);
}

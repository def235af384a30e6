// Loop devices (losetup(8)): a file seen as a block device.
import { tool } from '../exec.js';

const losetup = tool('losetup');

/** The loop device already backed by `file`, if any. */
export async function findLoop(file: string): Promise<string | undefined> {
  const { stdout } = await losetup.run(['-j', file]);
  return stdout.split('\n').find(Boolean)?.split(':')[0];
}

/** Attaches `file` to the first free loop device and returns it (e.g. /dev/loop3). */
export async function attachLoop(file: string): Promise<string> {
  return (await losetup.run(['-f', '--show', file])).stdout.trim();
}

/** Re-reads the backing file's size after it grew. */
export async function refreshLoopCapacity(device: string): Promise<void> {
  await losetup.run(['-c', device]);
}

/** Detaches loop `device` (`losetup -d`); the kernel frees it once nothing has it open. */
export async function detachLoop(device: string): Promise<void> {
  await losetup.run(['-d', device]);
}

// Typed wrapper of losetup(8), for the loop devices under the loopback thin pool.
import { tool } from '@graphdriver/core';

const lo = tool('losetup');

export const losetup = {
  /** The loop device already backed by `file`, if any. */
  async find(file: string): Promise<string | undefined> {
    const { stdout } = await lo.run(['-j', file]);
    return stdout.split('\n').find(Boolean)?.split(':')[0];
  },
  async attach(file: string): Promise<string> {
    return (await lo.run(['-f', '--show', file])).stdout.trim();
  },
  /** Re-reads the backing file's size after it grew. */
  async refreshCapacity(device: string): Promise<void> {
    await lo.run(['-c', device]);
  },
  async detach(device: string): Promise<void> {
    await lo.run(['-d', device]);
  },
};

// A real OCI image layout, made by umoci from a small real root filesystem (Debian's
// static busybox and a few files), in four layers that exercise what layers carry: files,
// symlinks, hardlinks, owners, setuid/sticky modes, a fifo, a device node, deletions
// (whiteouts), a file replaced by a directory, and an opaque directory.
import { execFileSync } from 'node:child_process';
import { chmod, chown, copyFile, link, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noise } from './images.js';
import { umoci } from './tools.js';

/** The static busybox binary the fixture's base layer is built from (Debian's busybox-static). */
export const BUSYBOX = '/usr/bin/busybox';

/** A real multi-layer image made by {@link buildImageFixture}. */
export interface ImageFixture {
  /** The layout directory (for oci:DIR:TAG). */
  layout: string;
  /** Tags of the image after 1, 2, 3 and 5 layers (v4 adds an opaque /opt and a whiteout). */
  tags: [string, string, string, string];
}

async function populateBase(root: string): Promise<void> {
  for (const d of ['bin', 'etc', 'usr/bin', 'usr/share/doc/busybox', 'var/lib', 'srv/data', 'dev', 'opt/old']) {
    await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  }
  await copyFile(BUSYBOX, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'ls', 'cat', 'echo', 'tar']) await symlink('busybox', join(root, 'bin', applet));
  await writeFile(join(root, 'etc/motd'), 'hello from graphdriver\n');
  await writeFile(join(root, 'etc/hostname'), 'fixture\n');
  await writeFile(join(root, 'usr/share/doc/busybox/README'), 'BusyBox combines tiny versions of many common UNIX utilities.\n');
  await writeFile(join(root, 'usr/share/doc/busybox/copyright'), 'GPL-2\n');
  await writeFile(join(root, 'usr/bin/suid-tool'), '#!/bin/sh\necho suid\n');
  await chmod(join(root, 'usr/bin/suid-tool'), 0o4755);
  await mkdir(join(root, 'tmp'));
  await chmod(join(root, 'tmp'), 0o1777);
  await writeFile(join(root, 'srv/data/owned'), 'owned by 1:2\n');
  await chown(join(root, 'srv/data/owned'), 1, 2);
  await chmod(join(root, 'srv/data/owned'), 0o640);
  await writeFile(join(root, 'opt/old/file'), 'old\n');
  execFileSync('mkfifo', ['-m', '0600', join(root, 'srv/fifo')]);
  execFileSync('mknod', ['-m', '0666', join(root, 'dev/null'), 'c', '1', '3']);
}

async function changeSecond(root: string): Promise<void> {
  await rm(join(root, 'bin/cat'));
  await rm(join(root, 'usr/share/doc'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await chmod(join(root, 'etc/motd'), 0o600);
  await mkdir(join(root, 'var/lib/app'), { recursive: true });
  await writeFile(join(root, 'var/lib/app/state'), 'state\n');
  await link(join(root, 'var/lib/app/state'), join(root, 'var/lib/app/state.bak'));
  await chown(join(root, 'var/lib/app/state'), 1000, 1000);
  await rm(join(root, 'etc/hostname'));
  await mkdir(join(root, 'etc/hostname'));
  await writeFile(join(root, 'etc/hostname/name'), 'a file became a directory\n');
}

async function changeThird(root: string): Promise<void> {
  await writeFile(join(root, 'srv/data/blob.bin'), noise(3 << 20, 'blob'));
  await writeFile(join(root, 'etc/motd'), 'hello again\n');
  await symlink('../srv/data/blob.bin', join(root, 'opt/blob-link'));
}

/** Builds the layout under `work` (which must not exist yet). Needs root (owners, mknod). */
export async function buildImageFixture(work: string): Promise<ImageFixture> {
  const layout = join(work, 'layout');
  const tags: ImageFixture['tags'] = ['v1', 'v2', 'v3', 'v4'];
  await mkdir(work, { recursive: true });
  await umoci.init(layout);
  await umoci.newImage(`${layout}:empty`);
  const steps = [populateBase, changeSecond, changeThird];
  let from = 'empty';
  for (let i = 0; i < steps.length; i++) {
    // unpack the previous image, change its tree, repack: umoci writes the diff as a layer
    const bundle = join(work, `bundle${i}`);
    await umoci.unpack(`${layout}:${from}`, bundle);
    await steps[i](join(bundle, 'rootfs'));
    await umoci.repack(`${layout}:${tags[i]}`, bundle);
    await rm(bundle, { recursive: true, force: true });
    from = tags[i];
  }
  // two more layers on v4: /opt replaced whole (an opaque whiteout), and a plain whiteout
  const optDir = join(work, 'opt-new');
  await mkdir(join(optDir, 'new'), { recursive: true });
  await writeFile(join(optDir, 'new/file'), 'only this survives in /opt\n');
  await umoci.tag(`${layout}:v3`, 'v4');
  await umoci.insert(`${layout}:v4`, optDir, '/opt', { opaque: true });
  await umoci.whiteout(`${layout}:v4`, '/srv/fifo');
  return { layout, tags };
}

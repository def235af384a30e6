// Child process of the crash tests: opens the driver (built dist) over a home and creates a
// layer ("once"), which the parent kills at a named fault point (GRAPHDRIVER_FAULT_POINT, e.g.
// btrfs:create:unpublished), or ("loop") creates snapshots until it is killed at a random moment.
//   node crash-child.mjs HOME once|loop
import { openBtrfs } from '../../dist/index.js';

const [home, mode] = process.argv.slice(2);
const say = (line) => process.stdout.write(line + '\n');

const { driver } = await openBtrfs(home);
say('ready');
if (mode === 'loop') {
  let parent = 'base';
  if (!(await driver.exists(parent))) await driver.create(parent, null);
  for (let i = 0; ; i++) {
    const id = `loop-${process.pid}-${i}`;
    await driver.create(id, parent, i % 3 === 0 ? { storageOpt: { size: '64M' } } : {});
    say(`created ${id}`);
    parent = id;
  }
} else {
  await driver.create('victim', 'base', { storageOpt: { size: '64M' } });
  say('finished');
}

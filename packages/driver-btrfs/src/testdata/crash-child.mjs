// Child process of the crash tests: opens the driver (built dist) over a home and creates
// layers, pausing forever at the point named by argv[3] so that the parent can SIGKILL it
// there, or ("loop") creating snapshots until it is killed at a random moment.
//   node crash-child.mjs HOME before-publish|after-publish|loop
import { BtrfsBackend, openBtrfs } from '../../dist/index.js';

const [home, mode] = process.argv.slice(2);
const say = (line) => process.stdout.write(line + '\n');
const forever = () => new Promise(() => setInterval(() => {}, 1 << 30));

const publish = BtrfsBackend.prototype.publish;
if (mode === 'before-publish') {
  BtrfsBackend.prototype.publish = async () => {
    say('paused');
    await forever();
  };
} else if (mode === 'after-publish') {
  BtrfsBackend.prototype.publish = async function (tmp, id) {
    await publish.call(this, tmp, id);
    say('paused');
    await forever();
  };
}

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

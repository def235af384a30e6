// Run inside the test VM by src/devmapper.vm.test.ts, in two boots over one home on the shared repo:
//   make HOME SEED   builds a chain of layers, then powers the guest off abruptly (sysrq) in the
//                    middle of one more create, after a delay chosen by SEED
//   check HOME       re-inits after that "power loss" and checks what survived
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { init } from '../../dist/index.js';
import { thinDeviceIdsOf } from './thin-dump-cli.mjs';

const [mode, home, seedText] = process.argv.slice(2);
const opts = ['dm.loopdatasize=1G', 'dm.loopmetadatasize=64M', 'dm.basesize=40M', 'dm.min_free_space=1%'];
const journal = join(home, 'journal.txt');
const CHAIN = 4;

if (mode === 'make') {
  const d = await init(home, opts);
  let prev = null;
  for (let i = 0; i < CHAIN; i++) {
    const id = `layer${i}`;
    await d.create(id, prev);
    const dir = await d.get(id);
    await writeFile(join(dir, `file${i}`), `content ${i}\n`);
    await d.put(id);
    // journalled (and synced: the guest is about to lose power) once the layer is complete
    const fh = await open(journal, 'a');
    await fh.write(`done ${id}\n`);
    await fh.sync();
    await fh.close();
    prev = id;
  }
  const pending = d.create(`layer${CHAIN}`, prev);
  setTimeout(() => writeFile('/proc/sysrq-trigger', 'o'), Number(seedText) % 300);
  await pending.catch(() => {});
  await new Promise((r) => setTimeout(r, 30_000));
  console.error('the guest is still running after its power-off');
  process.exit(3);
} else if (mode === 'check') {
  const done = (await readFile(journal, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[1]);
  const d = await init(home, opts);
  const listed = await d.list();
  const problems = [];
  for (const id of done) if (!listed.includes(id)) problems.push(`finished layer ${id} lost`);
  for (const id of listed) {
    const top = Math.min(Number(id.replace('layer', '')), CHAIN - 1);
    const dir = await d.get(id);
    // a layer sees its own file and every ancestor's
    for (let k = 0; k <= top; k++) {
      const text = await readFile(join(dir, `file${k}`), 'utf8').catch(() => null);
      if (text !== `content ${k}\n`) problems.push(`${id}: file${k} is ${JSON.stringify(text)}`);
    }
    await d.put(id);
  }
  // every leftover can be removed, and the pool then holds the base device only
  for (const id of [...listed].sort().reverse()) await d.remove(id);
  await d.cleanup();
  const ids = thinDeviceIdsOf(join(home, 'devicemapper', 'metadata'));
  if (ids.length !== 1) problems.push(`pool holds thin devices ${ids.join(',')} after every layer was removed`);
  console.log(JSON.stringify({ done, listed, problems }));
  process.exit(problems.length ? 1 : 0);
}

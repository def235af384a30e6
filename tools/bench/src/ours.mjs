#!/usr/bin/env node
// Our side of the benchmark: the same operations and the same one-line JSON output as
// moby-archive-bench, run in a process of its own so that time and peak RSS compare.
//   node ours.mjs [--repeat N] changes NEW OLD | size NEW OLD | export[-stream] NEW OLD OUT.tar | tar[-stream] DIR OUT.tar | apply DEST IN.tar
// export and tar use the file API (exportChangesToFile, tarDirectoryToFile); the -stream
// forms pipe the Readable (exportChanges, tarDirectory) into fs.createWriteStream.
// With --repeat N the operation runs N times in this one process (as in a long-running
// daemon, once the JIT has warmed up): "ms" is then the median of runs 2..N and "firstMs"
// the first run; otherwise "cpuMs" is the operation's CPU time (user + system, all threads).
// Uses the built package (packages/core/dist): run `pnpm build` first.
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import {
  applyLayer,
  changesDirs,
  changesSize,
  exportChanges,
  exportChangesToFile,
  tarDirectory,
  tarDirectoryToFile,
} from '@graphdriver/core';

const argv = process.argv.slice(2);
let repeat = 1;
if (argv[0] === '--repeat') {
  repeat = Math.max(1, Number(argv[1]));
  argv.splice(0, 2);
}
const [op, a, b, c] = argv;

async function once() {
  const out = { op };
  switch (op) {
    case 'changes': {
      out.changes = (await changesDirs(a, b)).length;
      break;
    }
    case 'size': {
      const ch = await changesDirs(a, b);
      out.changes = ch.length;
      out.bytes = await changesSize(a, ch);
      break;
    }
    case 'export': {
      const ch = await changesDirs(a, b);
      out.changes = ch.length;
      out.bytes = await exportChangesToFile(a, ch, c);
      break;
    }
    case 'export-stream': {
      const ch = await changesDirs(a, b);
      const ws = createWriteStream(c);
      await pipeline(exportChanges(a, ch), ws);
      out.changes = ch.length;
      out.bytes = ws.bytesWritten;
      break;
    }
    case 'tar': {
      out.bytes = await tarDirectoryToFile(a, b);
      break;
    }
    case 'tar-stream': {
      const ws = createWriteStream(b);
      await pipeline(tarDirectory(a), ws);
      out.bytes = ws.bytesWritten;
      break;
    }
    case 'apply': {
      if (repeat > 1) throw new Error('apply cannot be repeated in one process');
      // The default call: a plain read stream (64 KiB chunks), as a user writes it.
      out.size = await applyLayer(a, createReadStream(b));
      break;
    }
    default:
      console.error(`usage: ours.mjs [--repeat N] changes|size|export[-stream]|tar[-stream]|apply ARGS (unknown op ${op})`);
      process.exit(2);
  }
  return out;
}

const times = [];
const cpus = [];
let out;
for (let i = 0; i < repeat; i++) {
  if (i > 0 && op.startsWith('export')) rmSync(c, { force: true });
  if (i > 0 && op.startsWith('tar')) rmSync(b, { force: true });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  out = await once();
  const cu = process.cpuUsage(c0);
  times.push(performance.now() - t0);
  cpus.push((cu.user + cu.system) / 1000);
}
const round = (x) => Math.round(x * 1000) / 1000;
if (repeat > 1) {
  const warm = times.slice(1).sort((x, y) => x - y);
  out.ms = round(warm[(warm.length - 1) >> 1]);
  out.firstMs = round(times[0]);
} else {
  out.ms = round(times[0]);
  // CPU time of the operation, every thread of the process (thread pool, V8's compiler
  // and GC threads included), start-up excluded.
  out.cpuMs = round(cpus[0]);
}
console.log(JSON.stringify(out));

// The child of a crash campaign (built to dist/testing/crash-child.js and run with plain
// node): inits a driver from a built driver package, runs the operations it was given and
// journals each one ("begin" before, "done" after, every line fsynced), until it finishes or
// is killed. `node crash-child.js <config.json>`; see crash.ts for the parent.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Driver, InitFunc } from '../driver.js';
import { layerTar, type ChildConfig } from './crash-model.js';

export interface JournalLine {
  ev: 'ready' | 'begin' | 'done' | 'fail' | 'end';
  /** Index of the operation in the config's list. */
  i?: number;
  code?: string;
  message?: string;
  /** Date.now() when written. */
  t?: number;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as ChildConfig;
  const fd = openSync(cfg.journal, 'a');
  const journal = (line: JournalLine) => {
    writeSync(fd, JSON.stringify({ ...line, t: Date.now() }) + '\n');
    fsyncSync(fd);
  };
  const mod = (await import(pathToFileURL(cfg.driverModule).href)) as Record<string, unknown>;
  const init = mod[cfg.initExport ?? 'init'] as InitFunc;
  let i = -1;
  let driver: Driver | undefined;
  try {
    driver = await init(cfg.home, cfg.options);
    journal({ ev: 'ready' });
    process.stdout.write('ready\n'); // the parent times kills from here
    for (i = 0; i < cfg.ops.length; i++) {
      const op = cfg.ops[i];
      journal({ ev: 'begin', i });
      switch (op.op) {
        case 'create':
          await driver.create(op.id, op.parent);
          break;
        case 'createReadWrite':
          await driver.createReadWrite(op.id, op.parent);
          break;
        case 'applyDiff':
          await driver.applyDiff(op.id, null, layerTar(op.seed, cfg.tarScale));
          break;
        case 'remove':
          await driver.remove(op.id);
          break;
        case 'cleanup':
          await driver.cleanup();
          driver = undefined;
          driver = await init(cfg.home, cfg.options);
          break;
        case 'hold':
          await new Promise((r) => setTimeout(r, op.ms));
          break;
      }
      journal({ ev: 'done', i });
    }
    i = -1;
    await driver.cleanup();
    driver = undefined;
    journal({ ev: 'end' });
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; stack?: unknown };
    journal({ ev: 'fail', i, code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.stack ?? e?.message ?? err) });
    await driver?.cleanup().catch(() => {});
    process.exitCode = 3;
  } finally {
    closeSync(fd);
  }
}

process.on('unhandledRejection', (err) => {
  process.stderr.write(`unhandled rejection: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(4);
});

main().catch((err: unknown) => {
  process.stderr.write(`crash child: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(5);
});

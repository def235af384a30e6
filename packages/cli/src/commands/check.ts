// `check [--repair]`: the store's problems (core's driver.check), one line each; exit 1
// when there are any, or with --repair when some could not be mended.
import { GraphDriverError, type StoreProblem } from '@graphdriver/core';
import { CliErrorCode } from '../cli-errors.js';
import type { Output } from '../output.js';
import { withExistingDriver, type GlobalOptions } from '../session.js';

function line(p: StoreProblem): string {
  const state =
    p.repaired === true ? `repaired: ${p.repair}` : p.repaired === false ? `NOT repaired: ${p.repair}` : `repair would ${p.repair}`;
  return `${p.kind}: ${p.message} (${state})`;
}

export async function check(g: GlobalOptions, out: Output, o: { repair?: boolean }) {
  await withExistingDriver(g, async (driver) => {
    // no store yet: nothing to check, and a read-only command creates none
    if (!driver) {
      out.result({ problems: [], repaired: !!o.repair, ok: true }, ['no problems found (there is no store yet)']);
      return;
    }
    if (!driver.check || !driver.repair) {
      throw new GraphDriverError(CliErrorCode.Internal, `the ${driver.name} driver keeps no layer records to check`);
    }
    const problems = o.repair ? await driver.repair() : await driver.check();
    const left = problems.filter((p) => p.repaired !== true);
    const text = problems.length === 0 ? ['no problems found'] : problems.map(line);
    out.result({ problems, repaired: !!o.repair, ok: o.repair ? left.length === 0 : problems.length === 0 }, text, problems.map(line));
    if (o.repair ? left.length > 0 : problems.length > 0) {
      const n = o.repair ? left.length : problems.length;
      throw new GraphDriverError(
        CliErrorCode.StoreDamaged,
        `${n} problem${n === 1 ? '' : 's'} ${o.repair ? 'could not be repaired' : 'found'}${o.repair ? '' : ' (graphdriver check --repair mends what it can)'}`,
      );
    }
  });
}

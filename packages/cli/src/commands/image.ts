// import and export of OCI image layouts.
import type { Output } from '../output.js';
import { exportImage } from '../oci/export.js';
import { planImport, runImport } from '../oci/import.js';
import { parseOciReference } from '../oci/reference.js';
import { withDriver, type GlobalOptions } from '../session.js';

export async function importCommand(g: GlobalOptions, out: Output, refText: string) {
  const ref = parseOciReference(refText);
  await withDriver(g, async (driver) => {
    const plan = await planImport(driver, ref);
    const progress = out.progress(plan.bytes);
    const result = await runImport(driver, plan, progress).finally(() => progress.done());
    const added = result.layers.filter((l) => !l.skipped).length;
    const text = [
      ...result.layers.map((l) => `${l.skipped ? 'present' : 'applied'} ${l.id}  (${l.digest})`),
      `imported ${refText} (${result.manifest}): ${result.layers.length} layer${result.layers.length === 1 ? '' : 's'}, ${added} new; top layer ${result.top ?? '-'}`,
    ];
    out.result({ image: refText, driver: driver.name, ...result }, text, result.top ?? '');
  });
}

export async function exportCommand(g: GlobalOptions, out: Output, id: string, refText: string) {
  const ref = parseOciReference(refText);
  await withDriver(g, async (driver) => {
    const progress = out.progress();
    const result = await exportImage(driver, id, ref, progress).finally(() => progress.done());
    const text = [
      ...result.layers.map((l) => `layer ${l.id}  ${l.digest}  ${l.size} bytes`),
      `exported ${id} to ${refText}: manifest ${result.manifest}`,
    ];
    out.result({ image: refText, id, ...result }, text, result.manifest);
  });
}

// The `graphdriver` CLI end to end (issue 18): each command in a fresh process, as a user
// runs it, against moby-archive-bench's equivalent operation and GNU tar on the same data.
// Whole processes are compared (start-up, module loading, store lock and index included):
// wall, CPU (user + system, /usr/bin/time), page faults and peak RSS.
//   cli-diff   graphdriver diff CHILD -o F (child = base + the corpus diff; vfs, naive diff)
//              vs moby export upper base F
//   cli-tar    graphdriver diff BASE -o F (a layer with no parent: the whole tree)
//              vs moby tar base F, vs tar -cf F -C base .
//   cli-apply  graphdriver apply L base.tar (into a new empty layer, created outside the timing)
//              vs moby apply DIR base.tar, vs tar -xf base.tar -C DIR
//   cli-import graphdriver import oci:LAYOUT:base (a fresh store each run) vs the same layer
//              unpacked by moby apply and tar -xf (moby-archive-bench has no image import)
// The stores use the vfs driver (runs everywhere, no mounts): its diff is core's naive one.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The rows' names (BENCH_ONLY). */
export const CLI_CASES = ['cli-diff', 'cli-tar', 'cli-apply', 'cli-import'];

/**
 * Runs the CLI rows with bench.mjs's machinery (`runCase`: alternating tools, warm-up,
 * medians). Returns the rows for {@link cliReport}.
 */
export function cliBench({ work, base, upper, baseTar, peer, only, runCase, sh, quiesce, die }) {
  const want = CLI_CASES.filter((n) => !only || only.has(n));
  if (!want.length) return [];
  // the CLI's entry file itself: a package-manager shim would add a shell's start-up to every row
  const BIN = fileURLToPath(import.meta.resolve('@graphdriver/cli/bin'));
  if (!existsSync(BIN)) die(`${BIN} is missing: build the CLI first (pnpm turbo run build --filter @graphdriver/cli)`);
  const cli = (root, ...args) => ['node', BIN, '--root', root, '--driver', 'vfs', '--json', ...args];
  const run = (root, ...args) => JSON.parse(sh('node', [BIN, '--root', root, '--driver', 'vfs', '--json', ...args]).trim() || 'null');

  // One store holding base (base.tar) and child (base + moby's diff of upper against base).
  const store = join(work, 'cli-store');
  rmSync(store, { recursive: true, force: true });
  const diffTar = join(work, 'cli-diff-in.tar');
  sh(peer, ['export', upper, base, diffTar]);
  run(store, 'create', 'base');
  run(store, 'apply', 'base', baseTar);
  run(store, 'create', 'child', '--parent', 'base');
  run(store, 'apply', 'child', diffTar);
  rmSync(diffTar, { force: true });

  const rows = [];
  // ours and moby write the same archive (GNU tar its own format): the sizes must agree
  const sameBytes = () => {
    const seen = {};
    return (tool, _res, ctx) => {
      if (tool === 'gnutar') return;
      seen[tool] = statSync(ctx.out).size;
      if (seen.ours !== undefined && seen.moby !== undefined && seen.ours !== seen.moby)
        die(`tools disagree on the tar's size: ${JSON.stringify(seen)}`);
    };
  };
  const outFile = (tool) => {
    const out = join(work, `cli-${tool}.tar`);
    rmSync(out, { force: true });
    return { out };
  };
  const dropOut = (_tool, ctx) => rmSync(ctx.out, { force: true });

  if (want.includes('cli-diff'))
    rows.push(
      runCase({
        name: 'cli-diff',
        what: '`graphdriver diff child -o F` vs `moby-archive-bench export upper base F`',
        tools: {
          ours: (ctx) => cli(store, 'diff', 'child', '-o', ctx.out),
          moby: (ctx) => [peer, 'export', upper, base, ctx.out],
        },
        setup: outFile,
        check: sameBytes(),
        cleanup: dropOut,
      }),
    );
  if (want.includes('cli-tar'))
    rows.push(
      runCase({
        name: 'cli-tar',
        what: '`graphdriver diff base -o F` (the whole layer) vs `moby-archive-bench tar base F` vs `tar -cf F -C base .`',
        tools: {
          ours: (ctx) => cli(store, 'diff', 'base', '-o', ctx.out),
          moby: (ctx) => [peer, 'tar', base, ctx.out],
          gnutar: (ctx) => ['tar', '--numeric-owner', '-cf', ctx.out, '-C', base, '.'],
        },
        setup: outFile,
        check: sameBytes(),
        cleanup: dropOut,
      }),
    );

  const unpackTools = (file, ours) => ({
    ours,
    moby: (ctx) => [peer, 'apply', ctx.dest, file],
    gnutar: (ctx) => ['tar', '--numeric-owner', '-xf', file, '-C', ctx.dest],
  });
  if (want.includes('cli-apply')) {
    const applyStore = join(work, 'cli-apply-store');
    rows.push(
      runCase({
        name: 'cli-apply',
        what: '`graphdriver apply L base.tar` (L new and empty) vs `moby-archive-bench apply DIR base.tar` vs `tar -xf`',
        tools: unpackTools(baseTar, () => cli(applyStore, 'apply', 'l', baseTar)),
        setup: (tool) => {
          const ctx = { dest: join(work, `cli-apply-${tool}`) };
          rmSync(ctx.dest, { recursive: true, force: true });
          if (tool === 'ours') run(applyStore, 'create', 'l');
          else mkdirSync(ctx.dest, { recursive: true });
          quiesce();
          return ctx;
        },
        cleanup: (tool, ctx) => {
          if (tool === 'ours') run(applyStore, 'rm', 'l');
          rmSync(ctx.dest, { recursive: true, force: true });
        },
      }),
    );
    rmSync(applyStore, { recursive: true, force: true });
  }

  if (want.includes('cli-import')) {
    // The layout: base exported by the CLI itself; its one layer blob, decompressed if it is,
    // is what moby and GNU tar unpack.
    const layout = join(work, 'cli-layout');
    rmSync(layout, { recursive: true, force: true });
    run(store, 'export', 'base', `oci:${layout}:base`);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const blob = (d) => join(layout, 'blobs', ...d.split(':'));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
    const layer = manifest.layers[0];
    let layerTar = blob(layer.digest);
    if (/gzip|zstd/.test(layer.mediaType)) {
      layerTar = join(work, 'cli-layer.tar');
      sh('sh', ['-c', `${/zstd/.test(layer.mediaType) ? 'zstd -dc' : 'gzip -dc'} '${blob(layer.digest)}' > '${layerTar}'`]);
    }
    const importRoot = join(work, 'cli-import-store');
    rows.push(
      runCase({
        name: 'cli-import',
        what: `\`graphdriver import oci:LAYOUT:base\` (a fresh store; its one layer ${layer.mediaType.split('.').pop()}) vs moby apply and tar -xf of that layer uncompressed`,
        tools: unpackTools(layerTar, () => cli(importRoot, 'import', `oci:${layout}:base`)),
        setup: (tool) => {
          const ctx = { dest: join(work, `cli-import-${tool}`) };
          for (const d of [ctx.dest, importRoot]) rmSync(d, { recursive: true, force: true });
          if (tool !== 'ours') mkdirSync(ctx.dest, { recursive: true });
          quiesce();
          return ctx;
        },
        cleanup: (_tool, ctx) => {
          for (const d of [ctx.dest, importRoot]) rmSync(d, { recursive: true, force: true });
        },
      }),
    );
    rmSync(layout, { recursive: true, force: true });
    if (layerTar !== blob(layer.digest)) rmSync(layerTar, { force: true });
  }
  rmSync(store, { recursive: true, force: true });
  return rows.filter(Boolean);
}

/** The CLI rows as a markdown table: whole processes, each tool's medians and ours / moby, ours / GNU tar. */
export function cliReport(rows, rounds) {
  const f0 = (x) => (x === null || x === undefined ? '-' : x.toFixed(0));
  const mib = (kb) => (kb === null || kb === undefined ? '-' : (kb / 1024).toFixed(1));
  const ratio = (a, b) => (a === null || a === undefined || !b ? '-' : (a / b).toFixed(2));
  const lines = [
    '## The `graphdriver` CLI end to end',
    '',
    `Each command in a fresh process, ${rounds} counted rounds after a warm-up, medians; whole processes on every side ` +
      '(Node start-up, loading the CLI, the store lock and index for ours). CPU = user + system (/usr/bin/time), faults = minor + major. ' +
      'The stores use the vfs driver (core naive diff).',
    '',
    '| case | what | ours CPU ms | moby CPU ms | GNU tar CPU ms | **CPU ours/moby** | CPU ours/tar | ours faults | moby faults | tar faults | ours wall ms | moby wall ms | tar wall ms | wall ours/moby | ours RSS MiB | moby RSS MiB | tar RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const { ours: o, moby: m, gnutar: g } = r.summary;
    lines.push(
      `| ${r.name} | ${r.what} | ${f0(o.cpuMs)} | ${f0(m.cpuMs)} | ${g ? f0(g.cpuMs) : '-'} | **${ratio(o.cpuMs, m.cpuMs)}** | ${g ? ratio(o.cpuMs, g.cpuMs) : '-'} | ${o.faults ?? '-'} | ${m.faults ?? '-'} | ${g?.faults ?? '-'} | ${f0(o.wallMs)} | ${f0(m.wallMs)} | ${g ? f0(g.wallMs) : '-'} | ${ratio(o.wallMs, m.wallMs)} | ${mib(o.rssKB)} | ${mib(m.rssKB)} | ${g ? mib(g.rssKB) : '-'} |`,
    );
  }
  lines.push('');
  return lines;
}

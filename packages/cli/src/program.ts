// The command line: global options, the commands, and the one place errors are printed.
import { Command, CommanderError, Option } from 'commander';
import { GraphDriverError } from '@graphdriver/core';
import '@graphdriver/driver-overlay';
import '@graphdriver/driver-vfs';
import '@graphdriver/driver-btrfs';
import '@graphdriver/driver-zfs';
import '@graphdriver/driver-devmapper';
import { CliErrorCode, errorCode, errorMessage, exitStatus } from './cli-errors.js';
import * as layers from './commands/layers.js';
import * as diffs from './commands/diff.js';
import { drivers } from './commands/drivers.js';
import * as image from './commands/image.js';
import { transferOptions } from './commands/image.js';
import { Output } from './output.js';
import { watchInterrupts, type Interrupts } from './interrupts.js';
import { check } from './commands/check.js';
import type { GlobalOptions } from './session.js';
import { version } from './version.js';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function buildProgram(run: (fn: (g: GlobalOptions, out: Output) => Promise<void>) => Promise<void>): Command {
  const program = new Command('graphdriver')
    .description('Docker-compatible copy-on-write layer storage: layers, diffs, and images pulled, pushed, imported and exported')
    .version(version, '-V, --version')
    .option(
      '--root <dir>',
      'store root (default $GRAPHDRIVER_ROOT, else /var/lib/graphdriver for root, $XDG_DATA_HOME/graphdriver or ~/.local/share/graphdriver otherwise)',
    )
    .option('--driver <name>', 'storage driver (default: $GRAPHDRIVER, else the first that works here)')
    .option('--opt <key=value>', 'driver option (repeatable)', collect)
    .option('--json', 'machine-readable output: one JSON document on stdout')
    .option('-q, --quiet', 'print only the essential value; no progress')
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(true);

  const p = () => new Option('--parent <id>', "parent layer ('' for none; default: the layer's own parent)");
  program
    .command('create')
    .description('create a layer, empty or on top of a parent')
    .argument('<id>')
    .option('--parent <id>', 'parent layer')
    .option('--rw', 'a read-write (container) layer')
    .option('--size <size>', 'size limit, e.g. 10G (drivers with quota support)')
    .action((id, o) => run((g, out) => layers.create(g, out, id, o)));
  program
    .command('rm')
    .description('remove layers (children before their parents)')
    .argument('<id...>')
    .option('-f, --force', 'also remove mounted layers, releasing their references')
    .action((ids: string[], o) => run((g, out) => layers.remove(g, out, ids, o)));
  program
    .command('check')
    .description("verify every layer's record against the store; exit 1 on problems")
    .option('--repair', 'mend what can be mended: drop layers whose data is gone, release stale references, sweep strays')
    .action((o) => run((g, out) => check(g, out, o)));
  program
    .command('ls')
    .description('list layers with parent, size and creation time')
    .action(() => run((g, out) => layers.list(g, out)));
  program
    .command('mount')
    .description("make a layer's root available and print its path (counted; undo with unmount)")
    .argument('<id>')
    .action((id) => run((g, out) => layers.mount(g, out, id)));
  program
    .command('unmount')
    .alias('umount')
    .description('release one reference taken by mount')
    .argument('<id>')
    .action((id) => run((g, out) => layers.unmount(g, out, id)));
  program
    .command('status')
    .description("the driver's status")
    .action(() => run((g, out) => layers.status(g, out)));
  program
    .command('info')
    .description("a layer's record and the driver's metadata")
    .argument('<id>')
    .action((id) => run((g, out) => layers.info(g, out, id)));
  program
    .command('changes')
    .description('paths added (A), changed (C) and deleted (D) against the parent')
    .argument('<id>')
    .addOption(p())
    .action((id, o) => run((g, out) => diffs.changes(g, out, id, o)));
  program
    .command('diff')
    .description('write the layer as a tar of its changes against the parent')
    .argument('<id>')
    .addOption(p())
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action((id, o) => run((g, out) => diffs.diff(g, out, id, o)));
  program
    .command('apply')
    .description('apply a layer tar (plain, gzip or zstd) from FILE or stdin to a layer')
    .argument('<id>')
    .argument('[file]', "tar file, or '-' for stdin", '-')
    .addOption(p())
    .action((id, file, o) => run((g, out) => diffs.apply(g, out, id, file, o)));
  program
    .command('size')
    .description('bytes the layer adds to its parent')
    .argument('<id>')
    .addOption(p())
    .action((id, o) => run((g, out) => layers.size(g, out, id, o)));
  program
    .command('drivers')
    .description('registered drivers and whether each can run here')
    .action(() => run((g, out) => drivers(g, out)));
  transferOptions(
    program
      .command('import')
      .description('import an image (any transport) as a chain of layers named by chain ID')
      .argument('<image>', 'oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or docker://REF'),
  ).action((ref, o) => run((g, out) => image.importCommand(g, out, ref, o)));
  transferOptions(
    program
      .command('export')
      .description('export the chain of layers ending at ID as an image (any transport)')
      .argument('<id>')
      .argument('<image>', 'oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or docker://REF'),
    { compression: true },
  ).action((id, ref, o) => run((g, out) => image.exportCommand(g, out, id, ref, o)));
  transferOptions(
    program
      .command('pull')
      .description('pull an image from a registry (import docker://REF)')
      .argument('<ref>', '[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]'),
  ).action((ref, o) => run((g, out) => image.pullCommand(g, out, ref, o)));
  transferOptions(
    program
      .command('push')
      .description('push the chain of layers ending at ID to a registry (export ID docker://REF)')
      .argument('<id>')
      .argument('<ref>', '[docker://]HOST[:PORT]/REPO[:TAG]'),
    { compression: true },
  ).action((id, ref, o) => run((g, out) => image.pushCommand(g, out, id, ref, o)));
  program
    .command('login')
    .description('check credentials against a registry and store them in the auth file')
    .argument('<host>', 'HOST[:PORT]')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <pass>', 'password (visible to other users: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--authfile <file>', 'auth file to write (default: as podman, $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)')
    .option('--cert-dir <dir>', 'directory with ca.crt, client.cert and client.key for the registry')
    .addOption(new Option('--tls-verify [bool]', 'verify TLS; --tls-verify=false allows http and unverified TLS'))
    .action((host, o) => run((g, out) => image.loginCommand(g, out, host, o)));
  program
    .command('logout')
    .description("remove a registry's credentials from the auth file")
    .argument('<host>', 'HOST[:PORT]')
    .option('--authfile <file>', 'auth file to change')
    .action((host, o) => run((g, out) => image.logoutCommand(g, out, host, o)));
  return program;
}

/**
 * Runs the `graphdriver` CLI once and returns its exit status (0 done, 1 an error, 2 a usage
 * error, 128 + N after signal N); never throws. Output and errors go to the process's
 * stdout and stderr, as from the command line.
 *
 * @param argv - The command line as `process.argv` gives it (node, script, then arguments).
 * @param watched - Signals already being watched (the bin starts watching before loading the
 *   CLI); they stay installed afterwards. Without it, main watches them while it runs and
 *   removes its handlers before returning.
 */
export async function main(argv: readonly string[], watched?: Interrupts): Promise<number> {
  let g: GlobalOptions = { opt: [], json: argv.includes('--json'), quiet: false, debug: argv.includes('--debug') };
  const interrupts = watched ?? watchInterrupts();
  const program = buildProgram(async (fn) => {
    const o = program.opts<Partial<GlobalOptions>>();
    g = {
      root: o.root,
      driver: o.driver,
      opt: o.opt ?? [],
      json: !!o.json,
      quiet: !!o.quiet,
      debug: !!o.debug,
      signal: interrupts.signal,
      commit: () => interrupts.commit(),
    };
    const out = new Output(g);
    try {
      await fn(g, out);
    } finally {
      out.clearProgress(); // an error line, too, starts on a clean line
    }
  });
  try {
    await program.parseAsync([...argv]);
    // a command that got to its end anyway is still reported as interrupted
    const stop = interrupts.interruption;
    return stop ? report(g, new GraphDriverError(stop.code, stop.message), stop.status) : 0;
  } catch (err) {
    // whatever the command failed with once interrupted (an AbortError, EPIPE) is the interruption
    const stop = interrupts.interruption;
    if (stop) return report(g, new GraphDriverError(stop.code, stop.message), stop.status);
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      if (err.code === 'commander.help') return 2; // no command given: the help went to stderr
      return report(g, new GraphDriverError(CliErrorCode.Usage, `${err.message.replace(/^error: /, '')} (see graphdriver --help)`));
    }
    return report(g, err);
  } finally {
    if (!watched) interrupts.dispose();
  }
}

/** One line on stderr (a JSON object with --json), a stack only with --debug. */
function report(g: Pick<GlobalOptions, 'json' | 'debug'>, err: unknown, status = exitStatus(err)): number {
  const code = errorCode(err);
  const message = errorMessage(err);
  if (g.json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`graphdriver: ${code}: ${message}\n`);
  if (g.debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return status;
}

// The conformance suite on XFS mounted with prjquota (quota 'required'), plus overlay2's
// project-quota specifics: src/xfs-quota.vm.suite.ts, through core's launchXfsQuotaSuite. This
// machine's kernel is built without CONFIG_XFS_QUOTA, so the suite then runs inside the test
// VM (tools/vm/run: Debian's kernel, this machine's userland), which has it.
import { join } from 'node:path';
import { launchXfsQuotaSuite } from '@graphdriver/core/testing';
import { missingVm, vmPrefix } from '../../../tools/vm/vm-prefix.js';
import { packageDir, runSuite } from './test-support/child-vitest.js';

await launchXfsQuotaSuite({
  driver: 'overlay2',
  importSuite: () => import('./xfs-quota.vm.suite.js'),
  suitePath: 'packages/driver-overlay/src/xfs-quota.vm.suite.ts',
  reportPath: join(packageDir, 'node_modules', '.overlay-test', `xfs-quota-${process.pid}.json`),
  missingVm,
  // 3600 s: the first run here (130-layer chains, under TCG on a host at load ~21) was
  // killed at vfs's 1800 s
  vm: vmPrefix({ timeoutSeconds: 3600 }),
  runSuite,
  // the conformance table (18) and the 5 quota cases
  expectedTests: 23,
});

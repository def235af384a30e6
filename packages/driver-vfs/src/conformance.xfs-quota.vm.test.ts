// The conformance suite on XFS mounted with prjquota (quota 'required'), plus vfs's
// project-quota specifics: src/xfs-quota.vm.suite.ts, through core's launchXfsQuotaSuite. This
// machine's kernel is built without CONFIG_XFS_QUOTA, so the suite then runs inside the test
// VM (tools/vm/run: Debian's kernel, this machine's userland), which has it.
import { join } from 'node:path';
import { launchXfsQuotaSuite } from '@graphdriver/core/testing';
import { missingVm, vmPrefix } from '../../../tools/vm/vm-prefix.js';
import { packageDir, runSuite } from './test-support/child-vitest.js';

await launchXfsQuotaSuite({
  driver: 'vfs',
  importSuite: () => import('./xfs-quota.vm.suite.js'),
  suitePath: 'packages/driver-vfs/src/xfs-quota.vm.suite.ts',
  reportPath: join(packageDir, 'node_modules', '.vfs-test', `xfs-quota-${process.pid}.json`),
  missingVm,
  vm: vmPrefix({ timeoutSeconds: 1800 }),
  runSuite,
  // the conformance table (18) and the 5 quota cases
  expectedTests: 23,
});

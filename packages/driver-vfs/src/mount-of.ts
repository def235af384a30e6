// Which mount holds a path: core's one mount table reader. Kept as this module only for
// project-quota.ts, which moves to core (packages/core/src/linux/) and should import
// @graphdriver/core/linux itself; delete this file then.
export { mountOf, type MountInfo as MountEntry } from '@graphdriver/core/linux';

// The host owner of a container's root directory (Docker's idtools.GetRootUIDGID).
import type { IdMap, IdMappings } from '../driver.js';
import { errInvalidOption } from '../errors.js';

function hostRoot(maps: readonly IdMap[] | undefined, what: string): number {
  if (!maps || maps.length === 0) return 0;
  const r = maps.find((x) => x.containerId <= 0 && 0 < x.containerId + x.size);
  if (!r) throw errInvalidOption(`${what} mappings do not map the container root (id 0)`);
  return r.hostId - r.containerId;
}

/**
 * Host uid/gid that container id 0 maps to: 0:0 without mappings; ERR_INVALID_OPTION when
 * mappings are given but none covers id 0 (a root no host id stands for).
 */
export function rootPair(idMappings?: IdMappings): {
  /** Host uid of container root. */
  uid: number;
  /** Host gid of container root. */
  gid: number;
} {
  return { uid: hostRoot(idMappings?.uidMap, 'uid'), gid: hostRoot(idMappings?.gidMap, 'gid') };
}

// User and group names for tar headers. Docker (Go's archive/tar FileInfoHeader) fills
// uname/gname by looking the numeric ids up on the HOST (os/user: getpwuid_r / getgrgid_r,
// i.e. /etc/passwd and /etc/group on a normal system), not in the layer's own files. We do
// the same from the host files so our headers carry the same bytes; appliers (Docker's and
// ours) use the numeric ids anyway.
import { readFileSync } from 'node:fs';

export interface NameLookup {
  user(uid: number): string | undefined;
  group(gid: number): string | undefined;
}

/** Parses passwd/group text: the first line naming an id wins, as getpwuid does. */
function parseIdFile(text: string, minFields: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line[0] === '#' || line[0] === '+' || line[0] === '-') continue;
    const parts = line.split(':');
    if (parts.length < minFields || parts[0] === '') continue;
    const idText = parts[2];
    if (!/^\d+$/.test(idText)) continue;
    const id = Number(idText);
    if (!out.has(id)) out.set(id, parts[0]);
  }
  return out;
}

function readIdFile(path: string, minFields: number): Map<number, string> {
  try {
    return parseIdFile(readFileSync(path, 'utf8'), minFields);
  } catch {
    return new Map();
  }
}

/**
 * Names from the host's /etc/passwd and /etc/group, read once per call (so one archive is
 * consistent and a long-lived process still sees later edits).
 */
export function hostNameLookup(root = '/etc'): NameLookup {
  const users = readIdFile(`${root}/passwd`, 6);
  const groups = readIdFile(`${root}/group`, 3);
  return {
    user: (uid) => users.get(uid),
    group: (gid) => groups.get(gid),
  };
}

/** For callers that want purely numeric headers. */
export const noNames: NameLookup = { user: () => undefined, group: () => undefined };

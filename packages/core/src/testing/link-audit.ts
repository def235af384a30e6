// "No link in the layer leads out of it": the invariant behind issue 17, checked on a whole
// tree. Used by the fuzzer after every input, and by tests of anything that writes layers.
import * as fs from 'node:fs';
import { linkLeadsOutThroughLinks, linkLeavesRoot } from '../fs/safe-path.js';

/**
 * Every symlink under `root` whose target leads out of it by Docker's rule (linkLeavesRoot)
 * or once followed through the links in the tree (linkLeadsOutThroughLinks), as
 * "rel -> target" lines; empty when the tree is clean. Walks without recursion (hostile
 * trees are thousands of levels deep) and never follows a link.
 */
export function linksLeadingOut(root: string): string[] {
  const found: string[] = [];
  const stack = [''];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    for (const ent of fs.readdirSync(dir === '' ? root : `${root}/${dir}`, { withFileTypes: true })) {
      const rel = dir === '' ? ent.name : `${dir}/${ent.name}`;
      if (ent.isDirectory()) stack.push(rel);
      else if (ent.isSymbolicLink()) {
        const target = fs.readlinkSync(`${root}/${rel}`);
        if (linkLeavesRoot(rel, target) || linkLeadsOutThroughLinks(root, rel, target)) found.push(`${rel} -> ${target}`);
      }
    }
  }
  return found;
}

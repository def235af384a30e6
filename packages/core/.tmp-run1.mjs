// src/diff/changes.ts
import { lstatSync, readdirSync } from "node:fs";
import { getAttributeSync } from "@napi-rs/xattr";

// src/diff/walk-util.ts
var S_IFDIR = 16384;
function compareBytewise(a, b) {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 55296 && cb >= 55296) {
      ca = ca >= 57344 ? ca - 2048 : ca + 8192;
      cb = cb >= 57344 ? cb - 2048 : cb + 8192;
    }
    return ca - cb;
  }
  return a.length - b.length;
}
function sameFsTimeNs(a, b) {
  if (a === b) return true;
  const NS = 1000000000n;
  let sa = a / NS;
  let na = a % NS;
  if (na < 0n) {
    sa -= 1n;
    na += NS;
  }
  let sb = b / NS;
  let nb = b % NS;
  if (nb < 0n) {
    sb -= 1n;
    nb += NS;
  }
  return sa === sb && (na === 0n || nb === 0n);
}
function statDifferent(o, n) {
  if (o.mode !== n.mode || o.uid !== n.uid || o.gid !== n.gid || o.rdev !== n.rdev) return true;
  if ((Number(o.mode) & S_IFDIR) !== S_IFDIR) {
    if (o.size !== n.size || !sameFsTimeNs(o.mtimeNs, n.mtimeNs)) return true;
  }
  return false;
}
function yieldToLoop() {
  return new Promise((resolve) => setImmediate(resolve));
}
var Yielder = class {
  constructor(budgetMs = 20) {
    this.budgetMs = budgetMs;
  }
  budgetMs;
  last = performance.now();
  /** True when the caller should `await yieldToLoop()` now. */
  due() {
    const now = performance.now();
    if (now - this.last < this.budgetMs) return false;
    this.last = now;
    return true;
  }
  reset() {
    this.last = performance.now();
  }
};
function joinRel(parent, name) {
  return parent === "/" ? "/" + name : parent + "/" + name;
}

// src/diff/changes.ts
var CAPABILITY = "security.capability";
function lstatOrNull(path) {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
}
function capability(path) {
  try {
    const v = getAttributeSync(path, CAPABILITY);
    return v && v.length > 0 ? v : null;
  } catch {
    return null;
  }
}
function sameCapability(a, b) {
  const ca = capability(a);
  const cb = capability(b);
  if (ca === null || cb === null) return ca === cb;
  return ca.equals(cb);
}
function readNames(dir) {
  return readdirSync(dir);
}
function readEntries(dir) {
  return readdirSync(dir, { withFileTypes: true });
}
async function changesDirs(newDir, oldDir) {
  const changes = [];
  const newRoot = lstatSync(newDir, { bigint: true });
  const oldRoot = oldDir === null || oldDir === "" ? null : lstatSync(oldDir, { bigint: true });
  if (!newRoot.isDirectory()) return changes;
  const root = { path: "/", parent: null, flagged: true };
  const flag = (dir) => {
    for (let d = dir; d !== null && !d.flagged; d = d.parent) {
      d.flagged = true;
      changes.push({ path: d.path, kind: 0 /* Modify */ });
    }
  };
  const stack = [
    { node: root, newAbs: newDir, oldAbs: oldRoot !== null && oldRoot.isDirectory() ? oldDir : null }
  ];
  const yielder = new Yielder();
  while (stack.length > 0) {
    if (yielder.due()) await yieldToLoop();
    const { node, newAbs, oldAbs } = stack.pop();
    const entries = readEntries(newAbs);
    if (oldAbs === null) {
      for (const e of entries) {
        const path = joinRel(node.path, e.name);
        if (!node.flagged) flag(node);
        changes.push({ path, kind: 1 /* Add */ });
        if (e.isDirectory()) {
          stack.push({ node: { path, parent: node, flagged: true }, newAbs: newAbs + "/" + e.name, oldAbs: null });
        }
      }
      continue;
    }
    const oldNames = new Set(readNames(oldAbs));
    for (const e of entries) {
      const name = e.name;
      const path = joinRel(node.path, name);
      const newPath = newAbs + "/" + name;
      let nst = null;
      let ost = null;
      if (oldNames.delete(name)) {
        nst = lstatOrNull(newPath);
        ost = lstatOrNull(oldAbs + "/" + name);
        if (nst === null) {
          if (ost !== null) oldNames.add(name);
          continue;
        }
      }
      if (ost === null) {
        if (!node.flagged) flag(node);
        changes.push({ path, kind: 1 /* Add */ });
        if (e.isDirectory()) {
          stack.push({ node: { path, parent: node, flagged: true }, newAbs: newPath, oldAbs: null });
        }
        continue;
      }
      const st = nst;
      if (st.ino === ost.ino && st.dev === ost.dev) continue;
      const oldPath = oldAbs + "/" + name;
      const modified = statDifferent(ost, st) || !sameCapability(oldPath, newPath);
      if (modified) {
        if (!node.flagged) flag(node);
        changes.push({ path, kind: 0 /* Modify */ });
      }
      if (st.isDirectory()) {
        stack.push({
          node: { path, parent: node, flagged: modified },
          newAbs: newPath,
          oldAbs: ost.isDirectory() ? oldPath : null
        });
      }
    }
    for (const name of oldNames) {
      if (!node.flagged) flag(node);
      changes.push({ path: joinRel(node.path, name), kind: 2 /* Delete */ });
    }
  }
  changes.sort((a, b) => compareBytewise(a.path, b.path));
  return changes;
}

// ../../../../tmp/gdbench/run1.ts
var c = "/var/cache/graphdriver-corpus";
var t0 = performance.now();
var ch = await changesDirs(c + "/upper", c + "/base");
console.log(ch.length, (performance.now() - t0).toFixed(1));

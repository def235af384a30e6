// Comparing two exports of the same changes: only the whiteouts' timestamps may differ.
/**
 * A copy of the archive with the time of its whiteouts blanked, and with it their checksum:
 * a whiteout is stamped with the time of the export (Docker rounds it to the nearest second,
 * we round down), so two exports of the same changes differ there and nowhere else.
 */
export function blankWhiteoutTimes(tar: Buffer): Buffer {
  const b = Buffer.from(tar);
  let off = 0;
  const num = (o: number, len: number) =>
    parseInt(
      b
        .toString('latin1', o, o + len)
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
  let paxName: string | null = null;
  while (off + 512 <= b.length) {
    if (b.subarray(off, off + 512).every((x) => x === 0)) break;
    const type = String.fromCharCode(b[off + 156]);
    const size = num(off + 124, 12);
    if (type === 'x') {
      const body = b.toString('utf8', off + 512, off + 512 + size);
      const m = /\d+ path=([^\n]*)\n/.exec(body);
      paxName = m ? m[1] : null;
      off += 512 + Math.ceil(size / 512) * 512;
      continue;
    }
    const prefix = b.toString('utf8', off + 345, off + 500).replace(/\0.*$/s, '');
    const short = b.toString('utf8', off, off + 100).replace(/\0.*$/s, '');
    const name = paxName ?? (prefix ? `${prefix}/${short}` : short);
    paxName = null;
    if (/(^|\/)\.wh\.[^/]*$/.test(name)) {
      b.fill(0, off + 136, off + 148); // whiteout mtime
      b.fill(0, off + 148, off + 156); // and so its checksum
    }
    const data = type === '0' || type === '\0' || type === '7' ? size : 0;
    off += 512 + Math.ceil(data / 512) * 512;
  }
  return b;
}

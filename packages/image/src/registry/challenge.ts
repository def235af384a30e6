// WWW-Authenticate challenges (RFC 7235): `Basic realm="…"` and
// `Bearer realm="…",service="…",scope="…"`. Several challenges may share one header (node
// joins repeated headers with ", "); Bearer is preferred when both are offered.

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses the challenges of a WWW-Authenticate value; unknown schemes are left out. */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Array<{ scheme: string; params: Record<string, string> }> = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i])) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpace();
    const name = token();
    if (!name) {
      i++;
      continue;
    }
    // a name followed by '=' is a parameter of the current challenge, else a new scheme
    let j = i;
    while (j < n && header[j] === ' ') j++;
    if (header[j] === '=' && out.length > 0) {
      i = j + 1;
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        i++;
      } else {
        const start = i;
        while (i < n && header[i] !== ',') i++;
        value = header.slice(start, i).trim();
      }
      out[out.length - 1].params[name.toLowerCase()] = value;
    } else {
      out.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return out.filter((c): c is Challenge => c.scheme === 'basic' || c.scheme === 'bearer');
}

/** The challenge to answer: Bearer over Basic. */
export function pickChallenge(header: string | undefined): Challenge | undefined {
  const all = parseChallenges(header);
  return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
}

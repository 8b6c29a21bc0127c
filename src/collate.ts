// String order of `localeCompare` (ICU, English) for printable ASCII, computed here: the first
// `localeCompare` maps ICU's collation data and code (~3 MB of an idle daemon's RSS), and device
// names, bond members and option keys are ASCII. Anything else falls back to `localeCompare`.
// test/schema/collate.test.ts holds both equal over generated names.

// ICU's root order of printable ASCII (letters: lower case first, same primary weight as upper).
const ORDER = ' _-,;:!?.\'"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ';
const PRIMARY = new Uint8Array(128); // 0: not in the table
const UPPER = new Uint8Array(128);
{
  let w = 0;
  for (let i = 0; i < ORDER.length; i++) {
    const c = ORDER.charCodeAt(i);
    const up = c >= 65 && c <= 90;
    if (!up) w++;
    PRIMARY[c] = w;
    UPPER[c] = up ? 1 : 0;
  }
}
const NUMBER = PRIMARY[48]; // a digit run's primary weight in numeric order (the digits' place)
const isDigit = (c: number) => c >= 48 && c <= 57;
// ICU cuts numbers longer than this into several; such strings go to ICU.
const MAX_RUN = 254;

function asciiOnly(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || PRIMARY[c] === 0) return false;
  }
  return true;
}

/** End of the digit run starting at i, or -1 when it is too long for this comparator. */
function runEnd(s: string, i: number): number {
  let j = i;
  while (j < s.length && isDigit(s.charCodeAt(j))) j++;
  return j - i > MAX_RUN ? -1 : j;
}

/** Compares the digit runs a[i..ie) and b[j..je) by value (leading zeros do not count, as in ICU). */
function numCmp(a: string, i: number, ie: number, b: string, j: number, je: number): number {
  while (i < ie - 1 && a.charCodeAt(i) === 48) i++;
  while (j < je - 1 && b.charCodeAt(j) === 48) j++;
  if (ie - i !== je - j) return ie - i < je - j ? -1 : 1;
  for (; i < ie; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** -1/0/1 for ASCII strings, or undefined when ICU must decide (a digit run too long). */
function compareAscii(a: string, b: string, numeric: boolean): number | undefined {
  // Primary level: characters case-folded, digit runs by value when numeric.
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (numeric && isDigit(ca) && isDigit(cb)) {
      const ie = runEnd(a, i);
      const je = runEnd(b, j);
      if (ie < 0 || je < 0) return undefined;
      const d = numCmp(a, i, ie, b, j, je);
      if (d !== 0) return d;
      i = ie;
      j = je;
      continue;
    }
    const pa = numeric && isDigit(ca) ? NUMBER : PRIMARY[ca];
    const pb = numeric && isDigit(cb) ? NUMBER : PRIMARY[cb];
    if (pa !== pb) return pa < pb ? -1 : 1;
    i++;
    j++;
  }
  if (i < a.length || j < b.length) return i < a.length ? 1 : -1;
  // Equal but for case: the first letter whose case differs decides, lower case first. The
  // primary level matched, so both strings have the same shape (digit runs only differ in zeros).
  i = 0;
  j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (numeric && isDigit(ca)) {
      i = runEnd(a, i);
      j = runEnd(b, j);
      continue;
    }
    if (UPPER[ca] !== UPPER[cb]) return UPPER[ca] < UPPER[cb] ? -1 : 1;
    i++;
    j++;
  }
  return 0;
}

/** `a.localeCompare(b, 'en')` (plain order: eth10 before eth2), without ICU for ASCII. */
export function plainCompare(a: string, b: string): number {
  return (asciiOnly(a) && asciiOnly(b) ? compareAscii(a, b, false) : undefined) ?? a.localeCompare(b, 'en');
}

/** `a.localeCompare(b, 'en', { numeric: true })` (eth2 before eth10), without ICU for ASCII. */
export function naturalCompare(a: string, b: string): number {
  return (asciiOnly(a) && asciiOnly(b) ? compareAscii(a, b, true) : undefined) ?? a.localeCompare(b, 'en', { numeric: true });
}

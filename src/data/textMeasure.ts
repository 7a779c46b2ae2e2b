/** Characters of a text as people count them: a surrogate pair (an emoji, a rare Han character) is one. */
export interface CharCounts { chars: number; nonSpace: number; han: number }

/**
 * Count characters, non-blank characters and Han (Chinese) characters in one pass over char codes:
 * no regex, no allocation, since stats runs this on every message of a large file.
 */
export function countChars(s: string, into: CharCounts): void {
  let chars = 0, nonSpace = 0, han = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    chars++;
    if (c >= 0xd800 && c <= 0xdbff) {
      // Astral: CJK extensions B–H live in planes 2 and 3 (high surrogates D840–D8BF).
      const planeHan = c >= 0xd840 && c <= 0xd8bf;
      i++;
      nonSpace++;
      if (planeHan) han++;
      continue;
    }
    if (c <= 32 || c === 0xa0 || c === 0x3000 || c === 0x2028 || c === 0x2029 || c === 0xfeff) continue;
    nonSpace++;
    if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff)) han++;
  }
  into.chars += chars;
  into.nonSpace += nonSpace;
  into.han += han;
}

/**
 * Names that a careless adapter mangles or sorts wrongly: URL-reserved
 * characters, doubled slashes, spaces, non-ASCII, and characters whose UTF-16
 * and UTF-8 orders disagree (U+E000..U+FFFF sort after astral characters in
 * UTF-8 and before them in UTF-16). S3 lists keys in UTF-8 byte order.
 */
export const ODD_NAMES = [
  "odd name %#?+é😀//x.bin",
  "unicode/é文件名 ü.txt",
  "plus+and%2Fpercent",
  "a//b",
  "trailing space ",
  "z/\uFF21 fullwidth",
  "z/😀 emoji",
  "z/\uE000 private use",
  "z/~tilde",
  "Z upper",
] as const;

/** S3's listing order: by the UTF-8 bytes of the key. */
export function utf8Order(names: readonly string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
}

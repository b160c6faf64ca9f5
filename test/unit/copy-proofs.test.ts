import { describe, it, expect } from "vitest";
import { copyProofToken, isUnchangedByProof, needsCopyProof, PROOF_TOKEN_LENGTH } from "../../shared/copy/skip-checks.ts";
import { StateLayout } from "../../shared/state/layout.ts";
import { indexProofs } from "../../shared/worker/copy-proofs.ts";
import { MemoryStateStore } from "../fakes/state-store.ts";
import type { BlobEntry } from "../../shared/ports.ts";

const blob = (over: Partial<BlobEntry> = {}): BlobEntry => ({ name: "a", size: 100, etag: '"0x8D0001"', lastModified: "2026-01-01T00:00:00Z", metadata: {}, tags: {}, ...over });
const KEY_MD5 = "Jr3rZgYhdhG4sBq0sUb8Yg==";
const tuple = { sourceEtag: '"0x8D0001"', size: 100, destinationEtag: '"9b2cf535f27731c974343645a3985328-3"', keyMd5: KEY_MD5 };

describe("copy proof tokens", () => {
  it("are fixed-length hex, the same for the same tuple, whatever the quoting or case of the destination ETag", () => {
    const t = copyProofToken(tuple);
    expect(t).toMatch(new RegExp(`^[0-9a-f]{${PROOF_TOKEN_LENGTH}}$`));
    expect(copyProofToken({ ...tuple, destinationEtag: "9B2CF535F27731C974343645A3985328-3" })).toBe(t);
  });

  it("differ when any of source ETag, size, destination ETag or SSE-C key digest differs", () => {
    const t = copyProofToken(tuple);
    const others = [
      { ...tuple, sourceEtag: '"0x8D0002"' },
      { ...tuple, size: 101 },
      { ...tuple, destinationEtag: '"9b2cf535f27731c974343645a3985329-3"' },
      { ...tuple, keyMd5: undefined },
      { ...tuple, keyMd5: "AAAAAAAAAAAAAAAAAAAAAA==" },
    ];
    for (const o of others) expect(copyProofToken(o), JSON.stringify(o)).not.toBe(t);
  });
});

describe("isUnchangedByProof", () => {
  const listed = { size: 100, etag: tuple.destinationEtag };
  const proofs = new Set([copyProofToken(tuple)]);

  it("decides unchanged when the token of this blob, this listed ETag and this key is among the proofs", () => {
    expect(isUnchangedByProof(blob(), listed, KEY_MD5, proofs)).toBe("same size and source ETag (copy proof)");
  });

  it("does not when the source ETag, the size, the listed ETag or the SSE-C key differ, or no proof was found", () => {
    expect(isUnchangedByProof(blob({ etag: '"0x8D0002"' }), listed, KEY_MD5, proofs)).toBeUndefined();
    expect(isUnchangedByProof(blob({ size: 101 }), { ...listed, size: 101 }, KEY_MD5, proofs)).toBeUndefined();
    expect(isUnchangedByProof(blob(), { ...listed, size: 99 }, KEY_MD5, proofs)).toBeUndefined();
    expect(isUnchangedByProof(blob(), { ...listed, etag: "0123456789abcdef0123456789abcdef-3" }, KEY_MD5, proofs)).toBeUndefined();
    expect(isUnchangedByProof(blob(), listed, undefined, proofs)).toBeUndefined();
    expect(isUnchangedByProof(blob(), listed, "AAAAAAAAAAAAAAAAAAAAAA==", proofs)).toBeUndefined();
    expect(isUnchangedByProof(blob(), listed, KEY_MD5, undefined)).toBeUndefined();
    expect(isUnchangedByProof(blob(), listed, KEY_MD5, new Set())).toBeUndefined();
  });

  it("is needed only where the listed ETag alone would not decide", () => {
    const md5 = "0123456789abcdef0123456789abcdef";
    expect(needsCopyProof(blob({ contentMd5: md5 }), { size: 100, etag: md5 }, true)).toBe(false);
    expect(needsCopyProof(blob({ contentMd5: md5 }), { size: 100, etag: `${md5}-2` }, true)).toBe(true);
    expect(needsCopyProof(blob(), { size: 100, etag: md5 }, true)).toBe(true);
    expect(needsCopyProof(blob({ contentMd5: md5 }), { size: 100, etag: md5 }, false)).toBe(true);
    // No ETag to tie a proof to: none.
    expect(needsCopyProof(blob(), { size: 100, etag: "" }, true)).toBe(false);
  });
});

describe("copy proof keys", () => {
  const proofs = new StateLayout(".state/").proofs("dest");
  const token = "0123456789abcdef0123456789abcdef";

  it("parse back from the last '#', destination keys holding '#' included", () => {
    for (const key of ["a", "a#b", "x/100% #1 ?x=y&z", "#", "ends#", `e#${token}`]) {
      expect(proofs.parse(proofs.proof(key, token)), key).toEqual({ key, token });
    }
  });

  it("refuse keys of another shape", () => {
    expect(proofs.parse(`.state/proofs/other/a#${token}`)).toBeUndefined();
    expect(proofs.parse(`.state/proofs/dest/a#${token.slice(1)}`)).toBeUndefined();
    expect(proofs.parse(`.state/proofs/dest/a-${token}`)).toBeUndefined();
    expect(proofs.parse(`.state/proofs/dest/a#${token.toUpperCase()}`)).toBeUndefined();
  });
});

describe("indexProofs", () => {
  const layout = new StateLayout(".state/");
  const proofs = layout.proofs("dest");
  const t = (i: number) => i.toString(16).padStart(PROOF_TOKEN_LENGTH, "0");

  it("finds the proofs of exactly the keys asked, across pages, keys whose proofs sort apart from them included", async () => {
    // Prepare: keys with '#', characters below '#' (space, '!': a proof of "k" sorts after "k!"), unicode
    const store = new MemoryStateStore();
    const wanted = ["k", "k!", "k #", "k#x", "k/é", "k/😀", ...Array.from({ length: 1500 }, (_, i) => `k/n${String(i).padStart(5, "0")}`)];
    for (const [i, k] of wanted.entries()) await store.put(proofs.proof(k, t(i)), "");
    // A stale proof beside the current one, proofs of keys not asked, another bucket's, other state
    await store.put(proofs.proof("k/é", t(99999)), "");
    for (const k of ["j", "k/n99999", "l", "k!!"]) await store.put(proofs.proof(k, t(1)), "");
    await store.put(layout.proofs("desu").proof("k", t(1)), "");
    await store.put(".state/runs/r/run.json", "{}");
    // Act
    const found = await indexProofs(store, proofs, wanted, { attempts: 1 });
    // Assess
    expect([...found.keys()].sort()).toEqual([...wanted].sort());
    for (const [i, k] of wanted.entries()) expect(found.get(k)!.has(t(i)), k).toBe(true);
    expect([...found.get("k/é")!].sort()).toEqual([t(4), t(99999)].sort());
    expect(found.get("k")!.size).toBe(1);
  });

  it("keeps what it found when the range holds more proofs than its budget", async () => {
    const store = new MemoryStateStore();
    for (let i = 0; i < 2500; i++) await store.put(proofs.proof(`k/${String(i).padStart(5, "0")}`, t(i)), "");
    const found = await indexProofs(store, proofs, ["k/00000", "k/02499"], { attempts: 1, budget: 1000 });
    expect(found.get("k/00000")?.has(t(0))).toBe(true);
    expect(found.has("k/02499")).toBe(false);
  });

  it("lists nothing for no keys", async () => {
    const store = new MemoryStateStore();
    let pages = 0;
    const counting = Object.assign(Object.create(store), { listPage: () => (pages++, Promise.resolve({ keys: [], truncated: false })) });
    expect((await indexProofs(counting, proofs, [], { attempts: 1 })).size).toBe(0);
    expect(pages).toBe(0);
  });
});

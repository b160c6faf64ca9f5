/**
 * The answer of List Blobs (a flat listing) read straight into the fields the
 * listing needs, in one pass over the text.
 *
 * Why not the SDK's: it validates the whole document, parses it into a generic
 * tree (fast-xml-parser) and then maps that tree onto its models field by
 * field. A profile of planning 100,000 blobs put that at about 70% of the
 * process's CPU, and a copy of 2,000 small blobs at about a tenth. Here the
 * text is scanned once with indexOf, each element's text is kept only where a
 * field wants it, and the result has the shape of the SDK's BlobItem (the
 * subset blob-source.ts reads), so both paths feed the same conversion. A
 * contract test lists the same containers both ways and compares.
 *
 * What it understands of XML: elements, attributes in single or double
 * quotes (without a ">" in their values: Azure's are URLs, container names
 * and "true"), self-closing elements, character data with the five predefined
 * entities and numeric character references, CDATA sections, comments,
 * processing instructions and the declaration. Line ends are normalised as
 * XML requires (CR LF and CR become LF). A document that breaks these rules
 * (an unclosed tag, a closing tag that does not match) is an error that says
 * where. Character data becomes a string only where a field reads it (most of
 * a blob's 25 or so elements are not read): a malformed reference in an
 * element the listing does not read goes unnoticed.
 */
import { decodeXmlText, XmlError } from "../xml.ts";

/** One listed blob, in the SDK's BlobItem shape (the fields the listing uses). */
export interface ListedBlob {
  name: string;
  snapshot?: string;
  versionId?: string;
  isCurrentVersion?: boolean;
  deleted?: boolean;
  hasVersionsOnly?: boolean;
  properties: ListedProperties;
  metadata?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface ListedProperties {
  contentLength?: number;
  etag?: string;
  lastModified?: Date;
  contentMD5?: Uint8Array;
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
  accessTier?: string;
  archiveStatus?: string;
  blobType?: string;
  customerProvidedKeySha256?: string;
  legalHold?: boolean;
  immutabilityPolicyExpiresOn?: Date;
  immutabilityPolicyMode?: string;
}

export interface ListedPage {
  blobs: ListedBlob[];
  /** Empty or absent: the last page. */
  nextMarker?: string;
}

export class ListXmlError extends Error {
  constructor(message: string) {
    super(`the source's List Blobs answer is not the XML expected: ${message}`);
    this.name = "ListXmlError";
  }
}

type Setter = (p: ListedProperties, text: string) => void;
const str =
  (field: "etag" | "contentType" | "contentEncoding" | "contentLanguage" | "contentDisposition" | "cacheControl" | "accessTier" | "archiveStatus" | "blobType" | "customerProvidedKeySha256" | "immutabilityPolicyMode"): Setter =>
  (p, t) => {
    p[field] = t;
  };

/** Elements of <Properties> read, by name; the SDK's field and conversion for each. */
const PROPERTIES = new Map<string, Setter>([
  ["Content-Length", (p, t) => void (t !== "" && (p.contentLength = Number(t)))],
  ["Etag", str("etag")],
  ["Last-Modified", (p, t) => void (t !== "" && (p.lastModified = new Date(t)))],
  ["Content-MD5", (p, t) => void (p.contentMD5 = new Uint8Array(Buffer.from(t, "base64")))],
  ["Content-Type", str("contentType")],
  ["Content-Encoding", str("contentEncoding")],
  ["Content-Language", str("contentLanguage")],
  ["Content-Disposition", str("contentDisposition")],
  ["Cache-Control", str("cacheControl")],
  ["AccessTier", str("accessTier")],
  ["ArchiveStatus", str("archiveStatus")],
  ["BlobType", str("blobType")],
  ["CustomerProvidedKeySha256", str("customerProvidedKeySha256")],
  ["LegalHold", (p, t) => void (p.legalHold = t === "true")],
  ["ImmutabilityPolicyUntilDate", (p, t) => void (t !== "" && (p.immutabilityPolicyExpiresOn = new Date(t)))],
  ["ImmutabilityPolicyMode", str("immutabilityPolicyMode")],
]);

/** Character data as text (shared/xml.ts), its errors named as the listing's. */
function decode(raw: string, at: number): string {
  try {
    return decodeXmlText(raw, at);
  } catch (err) {
    throw err instanceof XmlError ? new ListXmlError(err.message) : err;
  }
}

const ENCODED = /(?:^|\s)Encoded\s*=\s*(?:"([^"]*)"|'([^']*)')/;

/** Whether a <Name> start tag's attributes say its text is percent-encoded (a name with characters XML can not carry). */
function encodedName(attrs: string, at: number): boolean {
  const m = ENCODED.exec(attrs);
  return m !== null && decode(m[1] ?? m[2] ?? "", at) === "true";
}

/**
 * Reads one page of List Blobs. Blobs come in document order; anything the
 * listing does not use (other properties, object replication metadata) is
 * skipped.
 */
export function parseListBlobs(xml: string): ListedPage {
  const blobs: ListedBlob[] = [];
  let nextMarker: string | undefined;
  /** Names of the open elements, outermost first. */
  const open: string[] = [];
  let blob: ListedBlob | undefined;
  let nameEncoded = false;
  let tagKey: string | undefined;
  let tagValue: string | undefined;
  // Character data of the innermost open element since it opened. A page holds some 25 elements a blob,
  // most of them a single run of text that the listing never reads (Creation-Time, LeaseState...): a single
  // run is kept as its offsets and becomes a string only when close() asks for it; anything else (several
  // runs, CDATA) is gathered in `text`.
  let runStart = -1;
  let runEnd = -1;
  let text = "";
  const value = (): string => (runStart < 0 ? text : decode(xml.slice(runStart, runEnd), runStart));
  const addText = (t: string) => {
    if (runStart >= 0) {
      text = decode(xml.slice(runStart, runEnd), runStart);
      runStart = -1;
    }
    text += t;
  };
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf("<", i);
    if (lt < 0) {
      if (xml.slice(i).trim() !== "") throw new ListXmlError(`text after the document's end at offset ${i}`);
      break;
    }
    if (lt > i && open.length > 0) {
      if (runStart < 0 && text === "") {
        runStart = i;
        runEnd = lt;
      } else addText(decode(xml.slice(i, lt), i));
    }
    const c = xml.charCodeAt(lt + 1);
    if (c === 0x3f /* ? */) {
      const end = xml.indexOf("?>", lt + 2);
      if (end < 0) throw new ListXmlError(`an unclosed processing instruction at offset ${lt}`);
      i = end + 2;
      continue;
    }
    if (c === 0x21 /* ! */) {
      if (xml.startsWith("<!--", lt)) {
        const end = xml.indexOf("-->", lt + 4);
        if (end < 0) throw new ListXmlError(`an unclosed comment at offset ${lt}`);
        i = end + 3;
      } else if (xml.startsWith("<![CDATA[", lt)) {
        const end = xml.indexOf("]]>", lt + 9);
        if (end < 0) throw new ListXmlError(`an unclosed CDATA section at offset ${lt}`);
        addText(xml.slice(lt + 9, end));
        i = end + 3;
      } else {
        throw new ListXmlError(`a declaration the listing does not use at offset ${lt}`);
      }
      continue;
    }
    const gt = xml.indexOf(">", lt + 1);
    if (gt < 0) throw new ListXmlError(`an unclosed tag at offset ${lt}`);
    if (c === 0x2f /* / */) {
      const expected = open.pop();
      // The usual case, `</Name>`, compared in place: no string for the name.
      if (expected === undefined || !closes(xml, lt + 2, gt, expected)) {
        throw new ListXmlError(`</${xml.slice(lt + 2, gt).trim()}> closes <${expected ?? "nothing"}> at offset ${lt}`);
      }
      close(expected);
      runStart = -1;
      text = "";
      i = gt + 1;
      continue;
    }
    const selfClosing = xml.charCodeAt(gt - 1) === 0x2f;
    const innerEnd = selfClosing ? gt - 1 : gt;
    const space = nameEnd(xml, lt + 1, innerEnd);
    if (space === lt + 1) throw new ListXmlError(`a tag without a name at offset ${lt}`);
    const name = elementName(xml, lt + 1, space);
    openElement(name, space, innerEnd, lt);
    runStart = -1;
    text = "";
    if (selfClosing) close(name);
    else open.push(name);
    i = gt + 1;
  }
  if (open.length > 0) throw new ListXmlError(`the document ends inside <${open[open.length - 1]}>`);
  return { blobs, nextMarker };

  /** `attrsFrom`..`attrsTo`: the start tag's text after its name (read only for <Name>, whose Encoded attribute matters). */
  function openElement(name: string, attrsFrom: number, attrsTo: number, at: number): void {
    const depth = open.length;
    // EnumerationResults / Blobs / Blob
    if (depth === 2 && name === "Blob" && open[1] === "Blobs") {
      blob = { name: "", properties: {} };
      return;
    }
    if (!blob) return;
    if (depth === 3 && name === "Name") nameEncoded = attrsFrom < attrsTo && encodedName(xml.slice(attrsFrom, attrsTo), at);
    else if (depth === 3 && name === "Metadata") blob.metadata = {};
    else if (depth === 3 && name === "Tags") blob.tags = {};
    else if (depth === 5 && name === "Tag" && open[3] === "Tags") {
      tagKey = undefined;
      tagValue = undefined;
    }
  }

  /** An element ends; its text (what was gathered since it opened) is read only where a field wants it. */
  function close(name: string): void {
    const text = value;
    const depth = open.length;
    if (depth === 1 && name === "NextMarker" && open[0] === "EnumerationResults") {
      nextMarker = text();
      return;
    }
    if (!blob) return;
    if (depth === 2 && name === "Blob") {
      blobs.push(blob);
      blob = undefined;
      return;
    }
    if (depth === 3) {
      switch (name) {
        case "Name": {
          const raw = text();
          blob.name = nameEncoded ? decodeURIComponent(raw) : raw;
          return;
        }
        case "Snapshot":
          blob.snapshot = text();
          return;
        case "VersionId":
          blob.versionId = text();
          return;
        case "IsCurrentVersion":
          blob.isCurrentVersion = text() === "true";
          return;
        case "Deleted":
          blob.deleted = text() === "true";
          return;
        case "HasVersionsOnly":
          blob.hasVersionsOnly = text() === "true";
          return;
      }
      return;
    }
    const section = open[3];
    if (depth === 4 && section === "Properties") {
      const set = PROPERTIES.get(name);
      if (set) set(blob.properties, text());
    } else if (depth === 4 && section === "Metadata") blob.metadata![name] = text();
    else if (depth === 6 && section === "Tags" && open[5] === "Tag") {
      if (name === "Key") tagKey = text();
      else if (name === "Value") tagValue = text();
    } else if (depth === 5 && section === "Tags" && name === "Tag" && tagKey !== undefined) blob.tags![tagKey] = tagValue ?? "";
  }
}

/**
 * Element names seen, by length and first and last character: a page repeats the same 30 or so
 * names for every blob, and an interned name is compared in place instead of sliced again.
 * Metadata keys and tag names are names too: the table stops growing at ELEMENT_NAMES_KEPT.
 */
const elementNames = new Map<number, string[]>();
let elementNamesKept = 0;
const ELEMENT_NAMES_KEPT = 512;

function elementName(xml: string, from: number, to: number): string {
  const length = to - from;
  const key = (length * 65536 + xml.charCodeAt(from)) * 65536 + xml.charCodeAt(to - 1);
  const known = elementNames.get(key);
  if (known) for (const name of known) if (xml.startsWith(name, from)) return name;
  const name = xml.slice(from, to);
  if (elementNamesKept < ELEMENT_NAMES_KEPT) {
    elementNamesKept++;
    if (known) known.push(name);
    else elementNames.set(key, [name]);
  }
  return name;
}

/** XML's white space, and (as the former `\s` did) the rest of Unicode's. */
function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d || (code > 0x7f && /\s/.test(String.fromCharCode(code))) || code === 0x0b || code === 0x0c;
}

/** The end of a start tag's name: the first white space in `from`..`to`, or `to`. */
function nameEnd(xml: string, from: number, to: number): number {
  for (let k = from; k < to; k++) if (isSpace(xml.charCodeAt(k))) return k;
  return to;
}

/** Whether `xml[from..to)` is `name` followed by nothing but white space (an end tag's body; leading white space too, as trim() allowed). */
function closes(xml: string, from: number, to: number, name: string): boolean {
  let k = from;
  while (k < to && isSpace(xml.charCodeAt(k))) k++;
  if (to - k < name.length || !xml.startsWith(name, k)) return false;
  for (k += name.length; k < to; k++) if (!isSpace(xml.charCodeAt(k))) return false;
  return true;
}

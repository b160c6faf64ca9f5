/**
 * The little XML that storage services answer with, read without a library:
 * character data (references and line ends, as XML 1.0 says) and, for the
 * small answers of S3 (a listing page, a multipart upload, a bucket setting),
 * a tree of elements. Azure's listing, which can be large, has its own
 * streaming reader (azure/list-xml.ts) on the same character data rules.
 */

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Character data as text: line ends normalised, references replaced. `at` is its offset, for errors. */
export function decodeXmlText(raw: string, at: number): string {
  let s = raw.indexOf("\r") >= 0 ? raw.replace(/\r\n?/g, "\n") : raw;
  if (s.indexOf("&") < 0) return s;
  s = s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|&/g, (whole, ref: string | undefined) => {
    if (ref === undefined) throw new XmlError(`a bare "&" near offset ${at}`);
    if (ref[0] === "#") {
      const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(code >= 0 && code <= 0x10ffff)) throw new XmlError(`character reference ${whole} near offset ${at}`);
      return String.fromCodePoint(code);
    }
    const e = ENTITIES[ref];
    if (e === undefined) throw new XmlError(`unknown entity ${whole} near offset ${at}`);
    return e;
  });
  return s;
}

export interface XmlElement {
  name: string;
  children: XmlElement[];
  /** Character data directly inside the element. */
  text: string;
}

/** The first child named `name`. */
export const childOf = (e: XmlElement | undefined, name: string): XmlElement | undefined => e?.children.find((c) => c.name === name);
/** Every child named `name`, in document order. */
export const childrenOf = (e: XmlElement | undefined, name: string): XmlElement[] => e?.children.filter((c) => c.name === name) ?? [];
/** The text of the first child named `name`, or undefined without one. */
export const textOf = (e: XmlElement | undefined, name: string): string | undefined => childOf(e, name)?.text;

/** The root element of a small document (attributes are not kept). */
export function parseXmlTree(xml: string): XmlElement {
  const root: XmlElement = { name: "", children: [], text: "" };
  const open: XmlElement[] = [root];
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf("<", i);
    const top = open[open.length - 1]!;
    if (lt < 0) {
      if (xml.slice(i).trim() !== "") throw new XmlError(`text after the document's end at offset ${i}`);
      break;
    }
    if (lt > i && open.length > 1) top.text += decodeXmlText(xml.slice(i, lt), i);
    const c = xml.charCodeAt(lt + 1);
    if (c === 0x3f /* ? */ || xml.startsWith("<!--", lt)) {
      const close = c === 0x3f ? "?>" : "-->";
      const end = xml.indexOf(close, lt + 2);
      if (end < 0) throw new XmlError(`an unclosed ${c === 0x3f ? "processing instruction" : "comment"} at offset ${lt}`);
      i = end + close.length;
      continue;
    }
    if (xml.startsWith("<![CDATA[", lt)) {
      const end = xml.indexOf("]]>", lt + 9);
      if (end < 0) throw new XmlError(`an unclosed CDATA section at offset ${lt}`);
      top.text += xml.slice(lt + 9, end);
      i = end + 3;
      continue;
    }
    if (c === 0x21 /* ! */) throw new XmlError(`a declaration at offset ${lt}`);
    const gt = xml.indexOf(">", lt + 1);
    if (gt < 0) throw new XmlError(`an unclosed tag at offset ${lt}`);
    if (c === 0x2f /* / */) {
      const name = xml.slice(lt + 2, gt).trim();
      if (open.length === 1 || name !== top.name) throw new XmlError(`</${name}> closes <${open.length > 1 ? top.name : "nothing"}> at offset ${lt}`);
      open.pop();
      i = gt + 1;
      continue;
    }
    const selfClosing = xml.charCodeAt(gt - 1) === 0x2f;
    const inner = xml.slice(lt + 1, selfClosing ? gt - 1 : gt);
    const space = inner.search(/\s/);
    const element: XmlElement = { name: space < 0 ? inner : inner.slice(0, space), children: [], text: "" };
    if (element.name === "") throw new XmlError(`a tag without a name at offset ${lt}`);
    if (open.length === 1 && root.children.length > 0) throw new XmlError(`a second root element at offset ${lt}`);
    top.children.push(element);
    if (!selfClosing) open.push(element);
    i = gt + 1;
  }
  if (open.length > 1) throw new XmlError(`the document ends inside <${open[open.length - 1]!.name}>`);
  const first = root.children[0];
  if (!first) throw new XmlError("no element");
  return first;
}

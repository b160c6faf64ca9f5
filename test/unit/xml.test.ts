import { describe, it, expect } from "vitest";
import { childrenOf, decodeXmlText, parseXmlTree, textOf, XmlError } from "../../shared/xml.ts";

describe("parseXmlTree", () => {
  it("reads an S3 listing page: repeated elements, references, CDATA, line ends, the declaration", () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\r\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      "<IsTruncated>true</IsTruncated>" +
      "<Contents><Key>a &amp; b &lt;c&gt; &#x1F600;&#233;</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>" +
      "<!-- a comment --><Contents><Key><![CDATA[x<y]]> z\r\nw</Key><Size>0</Size></Contents>" +
      "<Prefix/></ListBucketResult>";
    const root = parseXmlTree(xml);
    expect(root.name).toBe("ListBucketResult");
    expect(textOf(root, "IsTruncated")).toBe("true");
    const contents = childrenOf(root, "Contents");
    expect(contents.map((c) => textOf(c, "Key"))).toEqual(["a & b <c> \u{1F600}é", "x<y z\nw"]);
    expect(textOf(contents[0], "ETag")).toBe('"abc"');
    expect(textOf(root, "Prefix")).toBe("");
    expect(textOf(root, "Missing")).toBeUndefined();
  });

  it("names what is wrong with a broken document", () => {
    expect(() => parseXmlTree("<A><B></A>")).toThrow(/<\/A> closes <B>/);
    expect(() => parseXmlTree("<A>")).toThrow(/ends inside <A>/);
    expect(() => parseXmlTree("<A>&bogus;</A>")).toThrow(/unknown entity &bogus;/);
    expect(() => parseXmlTree("<A>a & b</A>")).toThrow(XmlError);
    expect(() => parseXmlTree("<A/><B/>")).toThrow(/second root/);
    expect(() => parseXmlTree("")).toThrow(/no element/);
  });

  it("decodes character data as XML 1.0 says", () => {
    expect(decodeXmlText("a\r\nb\rc", 0)).toBe("a\nb\nc");
    expect(decodeXmlText("&#65;&#x42;&apos;", 0)).toBe("AB'");
  });
});

import assert from "node:assert/strict";
import { escapeXml, parseXml, xmlChild, xmlChildren, xmlText } from "./s3_xml.ts";

Deno.test("parseXml() reads an S3 list page with entities, CDATA and namespaces", () => {
  const root = parseXml(
    `<?xml version="1.0" encoding="UTF-8"?>\n<!-- page -->` +
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Contents><Key>a&amp;b&lt;c&gt;&#233;&#x20AC;.asb</Key><Size>12</Size></Contents>` +
      `<Contents><Key><![CDATA[x<y>.asb]]></Key><Size>0</Size><Owner/></Contents>` +
      `<s3:IsTruncated xmlns:s3="urn:x">true</s3:IsTruncated></ListBucketResult>`,
  );
  assert.equal(root.name, "ListBucketResult");
  const items = xmlChildren(root, "Contents");
  assert.deepEqual(items.map((c) => xmlText(c, "Key")), ["a&b<c>é€.asb", "x<y>.asb"]);
  assert.equal(xmlText(items[0], "Size"), "12");
  assert.ok(xmlChild(items[1], "Owner"));
  assert.equal(xmlText(root, "IsTruncated"), "true");
  assert.equal(xmlText(root, "Missing"), undefined);
});

Deno.test("parseXml() skips attributes with > inside quotes", () => {
  const root = parseXml(`<A b="x>y" c='>'><B>1</B></A>`);
  assert.equal(xmlText(root, "B"), "1");
});

Deno.test("parseXml() names the offset of malformed documents", () => {
  assert.throws(() => parseXml("<A><B></A>"), /offset 6: closing tag "A" does not match "B"/);
  assert.throws(() => parseXml("<A>"), /element "A" not closed/);
  assert.throws(() => parseXml("  "), /no root element/);
  assert.throws(() => parseXml("<A/><B/>"), /a second root element/);
  assert.throws(() => parseXml("<A"), /unclosed tag/);
});

Deno.test("escapeXml() escapes what parseXml() decodes", () => {
  const text = `"etag" & <tag> 'x'`;
  assert.equal(escapeXml(text), "&quot;etag&quot; &amp; &lt;tag&gt; &apos;x&apos;");
  assert.equal(parseXml(`<E>${escapeXml(text)}</E>`).text, text);
});

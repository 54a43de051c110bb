import assert from "node:assert/strict";
import {
  escapeXml,
  parseXml,
  xmlAttribute,
  xmlChild,
  xmlChildren,
  xmlErrorFields,
  xmlText,
} from "./xml.ts";

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

Deno.test("parseXml() reads attributes, with > inside quotes and entities", () => {
  const root = parseXml(`<A b="x>y" c='>' d = "&amp;&#x41;"><B>1</B><C e="1"/></A>`);
  assert.equal(xmlText(root, "B"), "1");
  assert.equal(xmlAttribute(root, "b"), "x>y");
  assert.equal(xmlAttribute(root, "c"), ">");
  assert.equal(xmlAttribute(root, "d"), "&A");
  assert.equal(xmlAttribute(xmlChild(root, "C")!, "e"), "1");
  assert.equal(xmlAttribute(xmlChild(root, "B")!, "b"), undefined);
  assert.equal(xmlAttribute(root, "toString"), undefined);
});

Deno.test("parseXml() reads an Azure List Blobs page (attributes, empty and encoded names)", () => {
  const root = parseXml(
    `\uFEFF<?xml version="1.0" encoding="utf-8"?><EnumerationResults ` +
      `ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="c"><Prefix>bk/</Prefix>` +
      `<Blobs><Blob><Name Encoded="true">bk%2Fa%EF%BF%BE.asb</Name><Properties>` +
      `<Content-Length>12</Content-Length><AccessTier>Archive</AccessTier></Properties>` +
      `<Metadata><hdi_isfolder>true</hdi_isfolder></Metadata></Blob>` +
      `<BlobPrefix><Name>bk/sub/</Name></BlobPrefix></Blobs><NextMarker /></EnumerationResults>`,
  );
  assert.equal(xmlAttribute(root, "ContainerName"), "c");
  const blobs = xmlChildren(xmlChild(root, "Blobs"), "Blob");
  assert.equal(blobs.length, 1);
  const name = xmlChild(blobs[0], "Name")!;
  assert.equal(xmlAttribute(name, "Encoded"), "true");
  assert.equal(name.text, "bk%2Fa%EF%BF%BE.asb");
  assert.equal(xmlText(xmlChild(blobs[0], "Properties"), "Content-Length"), "12");
  assert.equal(xmlText(xmlChild(blobs[0], "Metadata"), "hdi_isfolder"), "true");
  assert.equal(xmlText(root, "NextMarker"), "");
});

Deno.test("xmlChild(), xmlChildren() and xmlText() take a missing parent", () => {
  const root = parseXml("<A><B/></A>");
  const missing = xmlChild(root, "C");
  assert.equal(missing, undefined);
  assert.equal(xmlChild(missing, "B"), undefined);
  assert.deepEqual(xmlChildren(missing, "B"), []);
  assert.equal(xmlText(missing, "B"), undefined);
});

Deno.test("xmlErrorFields() reads S3 and Azure error documents and ignores anything else", () => {
  assert.deepEqual(
    xmlErrorFields(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>` +
        `<Message>The key &quot;k&quot; does not exist</Message><Key>k</Key></Error>`,
    ),
    { code: "NoSuchKey", message: 'The key "k" does not exist' },
  );
  assert.deepEqual(xmlErrorFields("<Error><Code>BlobNotFound</Code></Error>"), {
    code: "BlobNotFound",
    message: "",
  });
  for (const other of ["", "<html><body>Bad Gateway</body></html>", "<Error><Code>X</Error>"]) {
    assert.deepEqual(xmlErrorFields(other), { code: "", message: "" });
  }
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

import assert from "node:assert/strict";
import { geoJsonCells, s2LeafCellId } from "./_s2_cell.ts";

Deno.test("s2LeafCellId() gives the cell a real server stored for a point", () => {
  // official-node-client.jsonl: the server answered {"type":"Point","coordinates":[103.9,1.3]}
  // with 1 cell, 0x31da186fa847d593.
  assert.equal(s2LeafCellId(103.9, 1.3), 0x31da186fa847d593n);
});

Deno.test("s2LeafCellId() puts lat/lng 0,0 at the centre of face 0", () => {
  assert.equal(s2LeafCellId(0, 0), 0x1000000000000001n);
});

Deno.test("s2LeafCellId() returns leaf cells on every face", () => {
  const points: [number, number][] = [[0, 0], [90, 0], [0, 90], [180, 0], [-90, 0], [0, -90]];
  points.forEach(([lng, lat], face) => {
    const id = s2LeafCellId(lng, lat);
    assert.equal(Number(id >> 61n), face, `${lng},${lat}`);
    assert.equal(id & 1n, 1n); // the lowest bit marks a level-30 cell
  });
});

Deno.test("geoJsonCells() gives one cell for a point and none for other shapes", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.deepEqual(geoJsonCells(enc('{"type":"Point","coordinates":[103.9,1.3]}')), [
    0x31da186fa847d593n,
  ]);
  assert.deepEqual(
    geoJsonCells(enc('{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}')),
    [],
  );
  assert.deepEqual(geoJsonCells(enc("not json")), []);
});

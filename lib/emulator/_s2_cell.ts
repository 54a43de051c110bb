/**
 * S2 leaf cell ids of GeoJSON points, as the server stores them with every GeoJSON value
 * (the `ncells` + cell ids before the JSON text of a GeoJSON particle it sends back).
 * Only points: the covering of a polygon or circle (the server's region coverer) is not
 * emulated, those values are answered without cells.
 *
 * @module
 */

const LOOKUP_BITS = 4;
const SWAP_MASK = 1;
const INVERT_MASK = 2;
const MAX_LEVEL = 30;
const POS_TO_IJ = [[0, 1, 3, 2], [0, 2, 3, 1], [3, 2, 0, 1], [3, 1, 0, 2]];
const POS_TO_ORIENTATION = [SWAP_MASK, 0, 0, INVERT_MASK | SWAP_MASK];

let lookupPos: Int32Array | undefined;

function initLookup(): Int32Array {
  const table = new Int32Array(1 << (2 * LOOKUP_BITS + 2));
  const fill = (level: number, i: number, j: number, orig: number, pos: number, o: number) => {
    if (level === LOOKUP_BITS) {
      const ij = (i << LOOKUP_BITS) + j;
      table[(ij << 2) + orig] = (pos << 2) + o;
      return;
    }
    const r = POS_TO_IJ[o];
    for (let k = 0; k < 4; k++) {
      fill(
        level + 1,
        (i << 1) + (r[k] >> 1),
        (j << 1) + (r[k] & 1),
        orig,
        (pos << 2) + k,
        o ^ POS_TO_ORIENTATION[k],
      );
    }
  };
  for (let o = 0; o < 4; o++) fill(0, 0, 0, o, 0, o);
  return table;
}

function uvToSt(u: number): number {
  // S2's quadratic projection.
  return u >= 0 ? 0.5 * Math.sqrt(1 + 3 * u) : 1 - 0.5 * Math.sqrt(1 - 3 * u);
}

function stToIj(s: number): number {
  return Math.max(0, Math.min(2 ** MAX_LEVEL - 1, Math.floor(2 ** MAX_LEVEL * s)));
}

/**
 * The S2 leaf cell id (level 30) of a point.
 *
 * @param lngDegrees Longitude in degrees.
 * @param latDegrees Latitude in degrees.
 * @returns The 64-bit cell id.
 */
export function s2LeafCellId(lngDegrees: number, latDegrees: number): bigint {
  const lat = (latDegrees * Math.PI) / 180;
  const lng = (lngDegrees * Math.PI) / 180;
  const x = Math.cos(lat) * Math.cos(lng);
  const y = Math.cos(lat) * Math.sin(lng);
  const z = Math.sin(lat);
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  const az = Math.abs(z);
  let face = ax > ay ? (ax > az ? 0 : 2) : (ay > az ? 1 : 2);
  if ([x, y, z][face] < 0) face += 3;
  let u: number;
  let v: number;
  switch (face) {
    case 0:
      [u, v] = [y / x, z / x];
      break;
    case 1:
      [u, v] = [-x / y, z / y];
      break;
    case 2:
      [u, v] = [-x / z, -y / z];
      break;
    case 3:
      [u, v] = [z / x, y / x];
      break;
    case 4:
      [u, v] = [z / y, -x / y];
      break;
    default:
      [u, v] = [-y / z, -x / z];
  }
  const i = stToIj(uvToSt(u));
  const j = stToIj(uvToSt(v));
  const table = lookupPos ??= initLookup();
  let n = BigInt(face) << 60n;
  let bits = face & SWAP_MASK;
  const mask = (1 << LOOKUP_BITS) - 1;
  for (let k = 7; k >= 0; k--) {
    // i and j are < 2^30: shifts by up to 28 bits stay exact in 32-bit arithmetic.
    bits += ((i >>> (k * LOOKUP_BITS)) & mask) << (LOOKUP_BITS + 2);
    bits += ((j >>> (k * LOOKUP_BITS)) & mask) << 2;
    bits = table[bits];
    n |= BigInt(bits >> 2) << BigInt(k * 2 * LOOKUP_BITS);
    bits &= SWAP_MASK | INVERT_MASK;
  }
  return BigInt.asUintN(64, n * 2n + 1n);
}

const cache = new WeakMap<Uint8Array, readonly bigint[]>();
const NO_CELLS: readonly bigint[] = [];

/**
 * The cells the server stores with a GeoJSON value: one leaf cell for a `Point`, none for
 * anything else (see the module note).
 *
 * @param json The GeoJSON text (UTF-8).
 * @returns The cell ids.
 */
export function geoJsonCells(json: Uint8Array): readonly bigint[] {
  let cells = cache.get(json);
  if (cells !== undefined) return cells;
  cells = NO_CELLS;
  try {
    const geo = JSON.parse(new TextDecoder().decode(json));
    const c = geo?.coordinates;
    if (
      geo?.type === "Point" && Array.isArray(c) && typeof c[0] === "number" &&
      typeof c[1] === "number"
    ) {
      cells = [s2LeafCellId(c[0], c[1])];
    }
  } catch {
    // Not JSON: the server would have refused it; answer it without cells.
  }
  cache.set(json, cells);
  return cells;
}

import { DATATYPES, type Datatype } from "./datatypes.js";
import { InvalidArgumentError } from "./errors.js";

/** Shapes are arrays of non-negative safe integers; -1 appears only in specs. */
export type Shape = readonly number[];

/** Largest element count or byte size we accept: anything above cannot be allocated anyway. */
export const MAX_SAFE_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * Element count of a request shape, guarded against overflow: a shape whose product would
 * pass 2^53 is rejected here, before anything is allocated.
 */
export function elementCount(shape: Shape, what = "tensor"): number {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new InvalidArgumentError(`${what}: shape [${shape.join(",")}] has an invalid dimension ${dim}`);
    }
    count *= dim;
    if (count > MAX_SAFE_SIZE) {
      throw new InvalidArgumentError(`${what}: shape [${shape.join(",")}] is too large`);
    }
  }
  return count;
}

/** Byte size of a fixed-size tensor (undefined for BYTES, whose size depends on its contents). */
export function fixedByteSize(datatype: Datatype, shape: Shape, what = "tensor"): number | undefined {
  const size = DATATYPES[datatype].size;
  const count = elementCount(shape, what);
  if (size === 0) return undefined;
  const bytes = count * size;
  if (bytes > MAX_SAFE_SIZE)
    throw new InvalidArgumentError(`${what}: shape [${shape.join(",")}] is too large`);
  return bytes;
}

/** Whether a concrete shape matches a spec shape where -1 is a wildcard. */
export function shapeMatches(spec: Shape, actual: Shape): boolean {
  if (spec.length !== actual.length) return false;
  for (let i = 0; i < spec.length; i++) {
    const s = spec[i]!;
    if (s !== -1 && s !== actual[i]) return false;
  }
  return true;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

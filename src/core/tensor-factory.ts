import type { Datatype } from "./datatypes.js";
import { type TensorSpec, type TensorSpecOptions, tensorSpec } from "./spec.js";
import { Tensor } from "./tensor.js";

/**
 * `tensor(dtype, shape)` declares an input or output spec; `tensor.fromArray` and friends
 * build output tensors.
 *
 * @example
 * inputs: { INPUT0: tensor("INT32", [16]) }
 * // in a model function:
 * return { OUTPUT0: tensor.fromArray("INT32", [1, 16], values) };
 */
export const tensor: {
  <D extends Datatype>(
    datatype: D,
    shape: readonly number[],
    options?: TensorSpecOptions & { optional?: false },
  ): TensorSpec<D, false>;
  <D extends Datatype>(
    datatype: D,
    shape: readonly number[],
    options: TensorSpecOptions & { optional: true },
  ): TensorSpec<D, true>;
  <D extends Datatype>(datatype: D, shape: readonly number[], options?: TensorSpecOptions): TensorSpec<D>;
  fromArray: typeof Tensor.fromArray;
  fromTyped: typeof Tensor.fromTyped;
  fromStrings: typeof Tensor.fromStrings;
} = Object.assign(
  ((datatype: Datatype, shape: readonly number[], options?: TensorSpecOptions) =>
    tensorSpec(datatype, shape, options)) as typeof tensorSpec,
  {
    fromArray: Tensor.fromArray,
    fromTyped: Tensor.fromTyped,
    fromStrings: Tensor.fromStrings,
  },
);

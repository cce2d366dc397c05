import type { SharedPlacement } from "../core/shared-placement.js";

/**
 * On a frontend thread, the engine's handle of each view of a client's region this thread
 * holds, by the view's placement (what a tensor over it keeps): a request names the view
 * instead of carrying the region's bytes, and the engine reads the region itself.
 */
const VIEW_HANDLES = new WeakMap<SharedPlacement, number>();

export function rememberViewHandle(placement: SharedPlacement, handle: number): void {
  VIEW_HANDLES.set(placement, handle);
}

/** The engine's view a tensor over a client's region came from (undefined: not from one). */
export function viewHandleOf(placement: SharedPlacement | undefined): number | undefined {
  return placement === undefined ? undefined : VIEW_HANDLES.get(placement);
}

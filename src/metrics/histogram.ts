/**
 * A fixed-bucket histogram cheap enough for the request path: an observation is a binary
 * search and two additions (prom-client's own Histogram hashes its labels on every call).
 * Buckets are exposed cumulatively at scrape time, in Prometheus's histogram format.
 */
export class BucketHistogram {
  /** Upper bounds, ascending; a last, implicit bucket is +Inf. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); one more entry than `bounds`, for +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let lo = 0;
    let hi = b.length;
    // The first bound >= value (Prometheus buckets are `le`, upper-inclusive).
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (b[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound, +Inf last (what a `_bucket` series holds). */
  cumulative(): number[] {
    const out: number[] = [];
    let acc = 0;
    for (const c of this.counts) {
      acc += c;
      out.push(acc);
    }
    return out;
  }
}

/**
 * A counter and a histogram whose label combinations are all known when they are made, numbered once, so
 * that counting on the hot path is an array write. prom-client hashes the label object on every inc() and
 * observe(), even through a labels() child (it sorts the label names and joins a string each time), which
 * made the two metrics of each request cost more than the rest of a UDP announce. These are still
 * prom-client metrics (registered, scraped and named as before): only their values live in typed arrays
 * and are turned into prom-client's shape when scraped.
 */
import {
  Counter,
  Histogram,
  type LabelValues,
  type MetricType,
  type MetricObjectWithValues,
  type MetricValue,
  type MetricValueWithName,
  type Registry,
} from 'prom-client';

/** prom-client's types declare MetricType as a numeric enum that its code never defines: it writes the names. */
const COUNTER = 'counter' as unknown as MetricType;
const HISTOGRAM = 'histogram' as unknown as MetricType;

/** The metric's description as prom-client's registry reads it (its own fields are not in its types). */
function describe<V extends MetricValue<string>>(options: { name: string; help: string }, type: MetricType, values: V[]): MetricObjectWithValues<V> {
  return { name: options.name, help: options.help, type, aggregator: 'sum', collect: () => undefined, values };
}

interface SeriesOptions<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  /** Every label combination, in the order of their numbers (series i is `series[i]`). */
  series: ReadonlyArray<LabelValues<T>>;
  registers: Registry[];
}

/** Counts per numbered series; `incAt(i)` is the hot path. */
export class SeriesCounter<T extends string> extends Counter<T> {
  private readonly counts: Float64Array;
  private readonly labelSets: ReadonlyArray<LabelValues<T>>;

  constructor(private readonly options: SeriesOptions<T>) {
    super({ name: options.name, help: options.help, labelNames: options.labelNames, registers: options.registers });
    this.labelSets = options.series;
    this.counts = new Float64Array(options.series.length);
  }

  incAt(series: number): void {
    this.counts[series]! += 1;
  }

  override get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    const values: MetricValue<T>[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      if (this.counts[i]! > 0) values.push({ labels: { ...this.labelSets[i] }, value: this.counts[i]! });
    }
    return Promise.resolve(describe(this.options, COUNTER, values));
  }

  /** What the registry prints: the same values (prom-client prefers this method when it exists). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    return this.get();
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class has made its arrays.
    this.counts?.fill(0);
  }
}

/** A histogram per numbered series; `observeAt(i, seconds)` is the hot path. */
export class SeriesHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: Float64Array;
  /** Per series: one count per bucket (not cumulative), then the count above the last bound. */
  private readonly buckets: Float64Array;
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  private readonly labelSets: ReadonlyArray<LabelValues<T>>;

  constructor(private readonly options: SeriesOptions<T> & { buckets: readonly number[] }) {
    super({ name: options.name, help: options.help, labelNames: options.labelNames, buckets: [...options.buckets], registers: options.registers });
    this.labelSets = options.series;
    this.bounds = Float64Array.from(options.buckets);
    this.buckets = new Float64Array(options.series.length * (options.buckets.length + 1));
    this.sums = new Float64Array(options.series.length);
    this.counts = new Float64Array(options.series.length);
  }

  observeAt(series: number, value: number): void {
    const bounds = this.bounds;
    // A linear search: most requests land in the first few buckets, and there are only a dozen.
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    this.buckets[series * (bounds.length + 1) + bucket]! += 1;
    this.sums[series]! += value;
    this.counts[series]! += 1;
  }

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const values: MetricValueWithName<T>[] = [];
    const width = this.bounds.length + 1;
    for (let s = 0; s < this.counts.length; s++) {
      if (this.counts[s] === 0) continue;
      const labels = this.labelSets[s]!;
      let cumulative = 0;
      for (let b = 0; b < this.bounds.length; b++) {
        cumulative += this.buckets[s * width + b]!;
        values.push({ labels: { ...labels, le: this.bounds[b] }, value: cumulative, metricName: `${this.options.name}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: this.counts[s]!, metricName: `${this.options.name}_bucket` });
      values.push({ labels: { ...labels }, value: this.sums[s]!, metricName: `${this.options.name}_sum` });
      values.push({ labels: { ...labels }, value: this.counts[s]!, metricName: `${this.options.name}_count` });
    }
    return Promise.resolve(describe(this.options, HISTOGRAM, values));
  }

  /** What the registry prints: the same values (prom-client prefers this method when it exists). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    return this.get();
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class has made its arrays.
    this.buckets?.fill(0);
    this.sums?.fill(0);
    this.counts?.fill(0);
  }
}

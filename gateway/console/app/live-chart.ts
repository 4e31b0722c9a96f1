// A live line chart over uPlot: one series per key, points pushed as polls answer, the oldest
// dropped past `maxPoints`. The element carries `data-points` (how many points the chart holds)
// and `data-last` (the newest value of each series, as JSON) so tests and tools read what the
// chart shows without scraping the canvas.
import uPlot from "uplot";
import { invariant } from "../../../core/errors.ts";
import { el } from "./dom.ts";

const HEIGHT = 220;
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"] as const;

export interface LiveChartOptions {
  /** Names the element (`data-chart`). */
  readonly name: string;
  readonly title: string;
  /** The y axis' label. */
  readonly unit: string;
  /** Points kept (default 300: five minutes at one poll a second). */
  readonly maxPoints?: number;
  /** Series kept; keys past it are left out (and counted in `data-dropped-series`). Default 12. */
  readonly maxSeries?: number;
}

export class LiveChart {
  readonly element: HTMLElement;
  readonly #canvas: HTMLElement;
  readonly #options: Required<LiveChartOptions>;
  readonly #times: number[] = [];
  /** Per series key, one value (or null before it appeared) per time. */
  readonly #values = new Map<string, (number | null)[]>();
  #plot: uPlot | undefined;
  #dropped = new Set<string>();
  /** Keeps the plot as wide as its element when the window changes. */
  readonly #resize = new ResizeObserver(() => this.#plot?.setSize({ width: this.#width(), height: HEIGHT }));

  constructor(options: LiveChartOptions) {
    this.#options = { maxPoints: 300, maxSeries: 12, ...options };
    invariant(this.#options.maxPoints >= 2 && this.#options.maxSeries >= 1, "a live chart keeps at least two points and one series");
    this.#canvas = el("div", { class: "chart-canvas" });
    this.element = el("figure", { class: "chart", "data-chart": options.name, "data-points": 0, "data-last": "{}" }, el("figcaption", {}, options.title), this.#canvas);
    this.#resize.observe(this.#canvas);
  }

  #width(): number {
    return Math.max(320, this.#canvas.clientWidth || 720);
  }

  /** Adds a point at `timeMs` with each series' value; a series missing here gets a gap. */
  push(timeMs: number, values: ReadonlyMap<string, number>): void {
    let newSeries = false;
    for (const key of values.keys()) {
      if (this.#values.has(key) || this.#dropped.has(key)) continue;
      if (this.#values.size >= this.#options.maxSeries) {
        this.#dropped.add(key);
        continue;
      }
      this.#values.set(key, this.#times.map(() => null));
      newSeries = true;
    }
    this.#times.push(timeMs / 1000);
    for (const [key, series] of this.#values) series.push(values.get(key) ?? null);
    if (this.#times.length > this.#options.maxPoints) {
      this.#times.shift();
      for (const series of this.#values.values()) series.shift();
    }
    this.#render(newSeries);
  }

  #render(rebuild: boolean): void {
    const data: uPlot.AlignedData = [this.#times, ...this.#values.values()];
    if (this.#plot === undefined || rebuild) {
      this.#plot?.destroy();
      this.#plot = new uPlot(this.#plotOptions(), data, this.#canvas);
    } else {
      this.#plot.setData(data);
    }
    const last: Record<string, number | null> = {};
    for (const [key, series] of this.#values) last[key] = series.at(-1) ?? null;
    this.element.setAttribute("data-points", String(this.#times.length));
    this.element.setAttribute("data-last", JSON.stringify(last));
    if (this.#dropped.size > 0) this.element.setAttribute("data-dropped-series", String(this.#dropped.size));
  }

  #plotOptions(): uPlot.Options {
    return {
      width: this.#width(),
      height: HEIGHT,
      scales: { x: { time: true } },
      axes: [{}, { label: this.#options.unit }],
      series: [{}, ...[...this.#values.keys()].map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false }))],
    };
  }

  dispose(): void {
    this.#resize.disconnect();
    this.#plot?.destroy();
    this.#plot = undefined;
  }
}

// Chart.js (bundled from npm), registered piece by piece so only what the page draws is shipped.
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  type ChartType,
  DoughnutController,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(
  LineController,
  LineElement,
  PointElement,
  BarController,
  BarElement,
  DoughnutController,
  ArcElement,
  CategoryScale,
  LinearScale,
  Filler,
  Tooltip,
  Legend,
);

export const COLORS = {
  plays: "#4f46e5",
  playsFill: "rgba(79, 70, 229, 0.14)",
  likes: "#e11d48",
  likesFill: "rgba(225, 29, 72, 0.12)",
  accent: "#0891b2",
  muted: "#c7d2fe",
  grid: "rgba(15, 23, 42, 0.07)",
  text: "#475569",
};
export const PALETTE = ["#4f46e5", "#0891b2", "#16a34a", "#f59e0b", "#e11d48", "#8b5cf6", "#64748b", "#14b8a6", "#f97316"];

const reducedMotion = globalThis.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;

Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.color = COLORS.text;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.responsive = true;
if (reducedMotion) Chart.defaults.animation = false;
Chart.defaults.plugins.legend.display = false;
Chart.defaults.plugins.tooltip.backgroundColor = "rgba(15, 23, 42, 0.92)";
Chart.defaults.plugins.tooltip.padding = 10;
Chart.defaults.plugins.tooltip.cornerRadius = 8;

const charts = new WeakMap<HTMLCanvasElement, Chart>();

/** Draws (or redraws in place) a chart on a canvas. */
export function draw<T extends ChartType>(canvas: HTMLCanvasElement, config: ChartConfiguration<T>): Chart<T> {
  const old = charts.get(canvas);
  if (old) old.destroy();
  const chart = new Chart<T>(canvas, config);
  charts.set(canvas, chart as unknown as Chart);
  return chart;
}

const axis = (extra: Record<string, unknown> = {}) => ({
  grid: { color: COLORS.grid },
  border: { display: false },
  ...extra,
});

/** A zero-filled daily series as a filled line. */
export function lineConfig(
  labels: string[],
  values: number[],
  label: string,
  color: string,
  fill: string,
  tooltipTitles?: string[],
): ChartConfiguration<"line"> {
  return {
    type: "line",
    data: {
      labels,
      datasets: [{
        label,
        data: values,
        borderColor: color,
        backgroundColor: fill,
        fill: "origin",
        tension: 0.3,
        borderWidth: 2,
        pointRadius: values.length > 45 ? 0 : 2.5,
        pointHoverRadius: 5,
        pointBackgroundColor: color,
      }],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: {
        x: axis({ grid: { display: false }, ticks: { maxTicksLimit: 8, maxRotation: 0 } }),
        y: axis({ beginAtZero: true, ticks: { precision: 0, maxTicksLimit: 6 } }),
      },
      plugins: {
        tooltip: {
          callbacks: tooltipTitles ? { title: (items) => tooltipTitles[items[0].dataIndex] ?? "" } : {},
        },
      },
    },
  };
}

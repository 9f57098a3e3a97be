// A dashboard panel: a titled card whose body is shown only once its data is in; until then (or
// when there is nothing to show, or the request failed) a status line says why. Never blank.
import { clear, h } from "./dom.ts";

export type PanelState = "loading" | "ready" | "empty" | "error";

export class Panel {
  readonly root: HTMLElement;
  readonly body: HTMLElement;
  readonly actions: HTMLElement;
  private readonly status: HTMLElement;

  constructor(readonly name: string, title: string, opts: { subtitle?: string; className?: string } = {}) {
    this.actions = h("div", { class: "panel-actions" });
    this.status = h("div", { class: "panel-status", role: "status" });
    this.body = h("div", { class: "panel-body" });
    this.root = h(
      "section",
      { class: `panel ${opts.className ?? ""}`.trim(), "data-testid": `panel-${name}`, "data-state": "loading" },
      h(
        "header",
        { class: "panel-head" },
        h("div", {}, h("h2", {}, title), opts.subtitle ? h("p", { class: "sub" }, opts.subtitle) : null),
        this.actions,
      ),
      this.status,
      this.body,
    );
    this.loading();
  }

  get state(): PanelState {
    return this.root.dataset.state as PanelState;
  }

  loading(message = "Loading…"): void {
    this.set("loading");
    clear(this.status);
    this.status.append(h("span", { class: "spinner", "aria-hidden": "true" }), h("span", {}, message));
  }

  /** The body is filled: show it. `params` records what the data is for (tests wait on it). */
  ready(params?: string): void {
    this.set("ready");
    clear(this.status);
    if (params !== undefined) this.root.dataset.params = params;
  }

  empty(message: string, params?: string): void {
    this.set("empty");
    clear(this.status);
    this.status.append(h("span", { class: "empty-icon", "aria-hidden": "true" }, "∅"), h("span", {}, message));
    if (params !== undefined) this.root.dataset.params = params;
  }

  error(message: string, retry?: () => void, params?: string): void {
    this.set("error");
    if (params !== undefined) this.root.dataset.params = params;
    clear(this.status);
    this.status.append(h("span", { class: "error-icon", "aria-hidden": "true" }, "!"), h("span", { class: "error-text" }, message));
    if (retry) {
      const b = h("button", { type: "button", class: "ghost small" }, "Retry");
      b.addEventListener("click", retry);
      this.status.append(b);
    }
  }

  private set(state: PanelState): void {
    this.root.dataset.state = state;
    this.root.setAttribute("aria-busy", String(state === "loading"));
  }
}

/** A chart area with its data as a table underneath (readable without the chart, and by tests). */
export function chartBox(
  testId: string,
  columns: string[],
  opts: { tall?: boolean } = {},
): { box: HTMLElement; canvas: HTMLCanvasElement; tbody: HTMLTableSectionElement; note: HTMLElement } {
  const canvas = h("canvas", { "data-testid": `${testId}-chart`, role: "img", "aria-label": columns.join(" by ") });
  const tbody = h("tbody");
  const note = h("p", { class: "chart-note", hidden: true });
  const box = h(
    "div",
    { class: "chart-wrap" },
    h("div", { class: opts.tall ? "chart-box tall" : "chart-box" }, canvas),
    note,
    h(
      "details",
      { class: "data" },
      h("summary", {}, "Data"),
      h("table", { "data-testid": `${testId}-table` }, h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", {}, c)))), tbody),
    ),
  );
  return { box, canvas, tbody, note };
}

export function fillRows(tbody: HTMLTableSectionElement, rows: { attrs?: Record<string, string>; cells: (string | number)[] }[]) {
  clear(tbody);
  for (const r of rows) tbody.append(h("tr", r.attrs ?? {}, ...r.cells.map((c) => h("td", {}, String(c)))));
}

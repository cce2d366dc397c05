"""The Grafana dashboard (deploy/grafana/tensorbind.json) with the ExaTrkX example under load:
serve the model repository, let Prometheus scrape it every second while the example's client
sends events, then either

- with --grafana GRAFANA_HOME: start that Grafana with the dashboard and a Prometheus data source
  provisioned (bench/exatrkx/grafana.py) and screenshot the dashboard in headless Chromium, Model
  set to the ensemble and its six steps; or
- without Grafana (the fallback): evaluate the "Pipeline steps" panels' own PromQL (variables
  matching everything) over Prometheus's HTTP API and draw them with matplotlib.

    .venv/bin/python bench/exatrkx/monitor.py --seconds 60 --grafana GRAFANA_HOME
    .venv/bin/python bench/exatrkx/monitor.py --seconds 60   # matplotlib fallback
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "exatrkx"))
import grafana
from run import served_run, start_server

sys.path.insert(0, str(REPO / "examples" / "exatrkx"))
from exatrkx.events import generate

STEPS = ["exatrkx", "embed", "frnn", "filter", "applyfilter", "gnn", "wcc"]
PANELS = ["Compute time per request, by step", "Queue time per request, by step", "Requests/s by step"]


def panel_queries() -> list[tuple[str, str, str]]:
    dash = json.loads((REPO / "deploy/grafana/tensorbind.json").read_text())
    found = {}

    def walk(panels):
        for p in panels:
            if p.get("title") in PANELS:
                found[p["title"]] = (p["targets"][0]["expr"], p["fieldConfig"]["defaults"].get("unit", ""))
            walk(p.get("panels", []))

    walk(dash["panels"])
    out = []
    for title in PANELS:
        expr, unit = found[title]
        for var in ("$job", "$instance", "$model"):
            expr = expr.replace(var, ".*")
        out.append((title, expr.replace("$__rate_interval", "10s"), unit))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--mu", type=float, default=20)
    ap.add_argument("--png", type=Path, default=REPO / "examples/exatrkx/dashboard.png")
    ap.add_argument("--prometheus", default=str(REPO / ".tools/prometheus/prometheus"))
    ap.add_argument("--grafana", type=Path, metavar="GRAFANA_HOME", help="screenshot this Grafana")
    ap.add_argument("--size", default="1600x2560", help="browser window for the screenshot, WxH")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="exatrkx-monitor-"))
    server, grpc_url, _http = start_server("repository", tmp, "cpu", 1, REPO / "examples/exatrkx/model_repository")
    prom = graf = None
    try:
        metrics = json.loads((tmp / "ready-repository.json").read_text())["metrics"]
        target = urllib.parse.urlparse(metrics).netloc
        (tmp / "prometheus.yml").write_text(
            "global: { scrape_interval: 1s }\n"
            f"scrape_configs: [ {{ job_name: exatrkx, static_configs: [ {{ targets: ['{target}'] }} ] }} ]\n"
        )
        prom = subprocess.Popen(
            [args.prometheus, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             "--web.listen-address=127.0.0.1:19099"],
            stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        if args.grafana:
            graf, graf_url = grafana.start(args.grafana, tmp / "grafana", "http://127.0.0.1:19099")
        events = list(generate(args.mu, 8, seed=1))
        time.sleep(5)
        start = time.time()
        rate = served_run(grpc_url, events, args.concurrency, args.seconds)
        loaded = time.time()  # the screenshot's range ends here, so the panels' last values are under load
        time.sleep(6)
        end = time.time()
        print(f"{rate:.2f} events/s at concurrency {args.concurrency} while scraped")
        if graf is not None:
            width, height = (int(v) for v in args.size.split("x"))
            grafana.screenshot(grafana.dashboard_url(graf_url, STEPS, start - 5, loaded - 1), args.png, width, height)
            return
        results = []
        for title, expr, unit in panel_queries():
            q = urllib.parse.urlencode({"query": expr, "start": start - 5, "end": end, "step": 2})
            with urllib.request.urlopen(f"http://127.0.0.1:19099/api/v1/query_range?{q}") as r:
                data = json.load(r)["data"]["result"]
            results.append((title, expr, unit, data))
        plot(results, start, args)
    finally:
        if graf is not None:
            graf.terminate()
            graf.wait()
        if prom is not None:
            prom.terminate()
            prom.wait()
        server.terminate()
        server.wait(timeout=60)


def plot(results, start: float, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(18, 4.8), dpi=100)
    fig.patch.set_facecolor("#181b1f")
    order = STEPS
    for ax, (title, _expr, unit, data) in zip(axes, results):
        ax.set_facecolor("#181b1f")
        series = sorted(
            data,
            key=lambda s: order.index(s["metric"].get("model")) if s["metric"].get("model") in order else 99,
        )
        for s in series:
            t = [float(v[0]) - start for v in s["values"]]
            y = [float(v[1]) / (1000 if unit == "µs" else 1) for v in s["values"]]
            ax.plot(t, y, label=s["metric"].get("model", "?"), lw=1.5)
        ax.set_title(title, color="#ccccdc", fontsize=11, loc="left")
        ax.set_xlabel("seconds under load", color="#9fa7b3")
        ax.set_ylabel({"µs": "ms", "reqps": "requests/s"}.get(unit, unit), color="#9fa7b3")
        ax.tick_params(colors="#9fa7b3")
        for side in ax.spines.values():
            side.set_color("#2f3238")
        ax.grid(color="#2f3238")
        ax.legend(fontsize=8, facecolor="#181b1f", labelcolor="#ccccdc", edgecolor="#2f3238")
    fig.suptitle(
        f"deploy/grafana/tensorbind.json, row 'Pipeline steps': its PromQL on Prometheus, drawn with matplotlib "
        f"(ExaTrkX repository, mu {args.mu:g}, {args.concurrency} in flight)",
        color="#ccccdc", fontsize=10,
    )  # fmt: skip
    fig.tight_layout()
    fig.savefig(args.png, facecolor=fig.get_facecolor())
    print(f"wrote {args.png}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

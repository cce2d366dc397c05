"""The Grafana dashboard's pipeline panels for the ExaTrkX example under load, rendered without
Grafana: serve the model repository, let Prometheus scrape it every second while the example's
client sends events, then evaluate the panels' own PromQL (from deploy/grafana/tensorbind.json,
variables set to match everything) over Prometheus's HTTP API and draw them with matplotlib.

    .venv/bin/python bench/exatrkx/monitor.py --seconds 60 --png examples/exatrkx/dashboard.png
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
from run import served_run, start_server

sys.path.insert(0, str(REPO / "examples" / "exatrkx"))
from exatrkx.events import generate

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
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="exatrkx-monitor-"))
    server, grpc_url = start_server("repository", tmp, "cpu", 1, REPO / "examples/exatrkx/model_repository")
    prom = None
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
        events = list(generate(args.mu, 8, seed=1))
        time.sleep(5)
        start = time.time()
        rate = served_run(grpc_url, events, args.concurrency, args.seconds)
        time.sleep(6)
        end = time.time()
        print(f"{rate:.2f} events/s at concurrency {args.concurrency} while scraped")
        results = []
        for title, expr, unit in panel_queries():
            q = urllib.parse.urlencode({"query": expr, "start": start - 5, "end": end, "step": 2})
            with urllib.request.urlopen(f"http://127.0.0.1:19099/api/v1/query_range?{q}") as r:
                data = json.load(r)["data"]["result"]
            results.append((title, expr, unit, data))
        plot(results, start, args)
    finally:
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
    order = ["exatrkx", "embed", "frnn", "filter", "applyfilter", "gnn", "wcc"]
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

"""A real Grafana for bench/exatrkx/monitor.py --grafana: provision the project's dashboard
(deploy/grafana/tensorbind.json) and a Prometheus data source into a temporary directory, start
the Grafana server of an installed Grafana (GRAFANA_HOME: the folder with bin/, conf/ and public/,
as a release archive unpacks), and screenshot the dashboard with headless Chromium.

Nothing of Grafana lives in this repository: the provisioning files are written per run, Grafana
runs on loopback with anonymous read-only access, and its data directory is thrown away.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_UID = "tensorbind-triton"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def provision(tmp: Path, prometheus_url: str) -> Path:
    """Grafana's provisioning tree: the Prometheus data source and the dashboard, as deploy/ ships
    them but pointing at this run's Prometheus and this run's copy of the dashboard."""
    prov = tmp / "provisioning"
    dashboards = tmp / "dashboards"
    for sub in ("datasources", "dashboards", "plugins", "notifiers", "alerting"):
        (prov / sub).mkdir(parents=True, exist_ok=True)
    dashboards.mkdir(exist_ok=True)
    shutil.copy(REPO / "deploy/grafana/tensorbind.json", dashboards / "tensorbind.json")
    (prov / "datasources/prometheus.yml").write_text(
        "apiVersion: 1\n"
        "datasources:\n"
        "  - name: Prometheus\n"
        "    uid: prometheus\n"
        "    type: prometheus\n"
        "    access: proxy\n"
        f"    url: {prometheus_url}\n"
        "    isDefault: true\n"
        "    jsonData: { timeInterval: 1s }\n"  # the scrape interval, so $__rate_interval is short
    )
    (prov / "dashboards/tensorbind.yml").write_text(
        "apiVersion: 1\n"
        "providers:\n"
        "  - name: tensorbind\n"
        "    folder: Inference\n"
        "    type: file\n"
        f"    options: {{ path: {dashboards} }}\n"
    )
    return prov


def start(home: Path, tmp: Path, prometheus_url: str) -> tuple[subprocess.Popen, str]:
    """Start Grafana from `home` on a free loopback port; returns the process and its base URL."""
    home = home.resolve()
    if (home / "bin/grafana").exists():
        cmd = [str(home / "bin/grafana"), "server"]  # Grafana 10 and later
    elif (home / "bin/grafana-server").exists():
        cmd = [str(home / "bin/grafana-server")]
    else:
        raise SystemExit(f"no Grafana in {home}: expected bin/grafana or bin/grafana-server")
    port = free_port()
    env = {
        **os.environ,
        "GF_PATHS_PROVISIONING": str(provision(tmp, prometheus_url)),
        "GF_PATHS_DATA": str(tmp / "data"),
        "GF_PATHS_LOGS": str(tmp / "logs"),
        "GF_PATHS_PLUGINS": str(tmp / "plugins"),
        "GF_SERVER_HTTP_ADDR": "127.0.0.1",
        "GF_SERVER_HTTP_PORT": str(port),
        "GF_AUTH_ANONYMOUS_ENABLED": "true",
        "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        "GF_AUTH_DISABLE_LOGIN_FORM": "true",
        "GF_USERS_DEFAULT_THEME": "dark",
        # A closed network: nothing that phones home.
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        "GF_NEWS_NEWS_FEED_ENABLED": "false",
        "GF_PLUGINS_PLUGIN_CATALOG_URL": "",
    }
    log = open(tmp / "grafana.log", "wb")  # noqa: SIM115 (lives as long as Grafana)
    proc = subprocess.Popen(
        [*cmd, "--homepath", str(home)], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/dashboards/uid/{DASHBOARD_UID}", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.terminate()
            raise RuntimeError(f"Grafana did not serve the dashboard: see {tmp / 'grafana.log'}")
        time.sleep(1)


def dashboard_url(base: str, models: list[str], start: float, end: float) -> str:
    q = [("orgId", "1"), ("from", str(int(start * 1000))), ("to", str(int(end * 1000)))]
    q += [("var-datasource", "prometheus"), ("var-job", "All"), ("var-instance", "All")]
    q += [("var-model", m) for m in models]
    return f"{base}/d/{DASHBOARD_UID}/?{urllib.parse.urlencode(q)}"


def screenshot(url: str, png: Path, width: int, height: int) -> None:
    """The dashboard as a browser shows it: bench/exatrkx/grafana-shot.mjs drives Chromium."""
    subprocess.run(
        ["node", str(REPO / "bench/exatrkx/grafana-shot.mjs"), url, str(png), str(width), str(height)],
        cwd=REPO, check=True,
    )  # fmt: skip
    shrink(png)


def shrink(png: Path) -> None:
    """A 256-colour palette: Grafana's flat dark theme loses nothing visible, the file ~half."""
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    small.save(png, optimize=True)

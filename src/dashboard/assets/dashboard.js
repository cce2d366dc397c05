// tensorbind's live dashboard. Polls /dashboard/api/snapshot (cumulative counters and
// histogram buckets), turns the differences between polls into rates and percentiles, and
// draws them on canvases. No dependencies and nothing loaded from elsewhere: the page must
// work on an air-gapped cluster node.
(() => {
  const params = new URLSearchParams(location.search);
  const INTERVAL_MS = Math.max(200, Number(params.get("interval")) || 1000);
  /** Points kept per chart: two minutes at the default interval. */
  const WINDOW = 120;
  /** The batch-size chart compares with the snapshot this long ago. */
  const BATCH_WINDOW_MS = 60_000;
  const PALETTE = [
    "#58a6ff",
    "#3fb950",
    "#d29922",
    "#f85149",
    "#bc8cff",
    "#39c5cf",
    "#ff7b72",
    "#7ee787",
    "#e3b341",
    "#a5d6ff",
  ];

  const $ = (id) => document.getElementById(id);
  const colors = new Map();
  const colorFor = (key) => {
    if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
    return colors.get(key);
  };
  // Each model its own colour, kept for the page's life: the palette, then golden-angle hues,
  // so that no two models share one however many there are.
  const modelColors = new Map();
  const modelColor = (key) => {
    if (!modelColors.has(key)) {
      const i = modelColors.size;
      modelColors.set(
        key,
        i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.508) % 360)}, 70%, 62%)`,
      );
    }
    return modelColors.get(key);
  };

  /** Recent snapshots (for the batch window) and the derived points (for the line charts). */
  const snapshots = [];
  const points = [];

  // ---- numbers ---------------------------------------------------------------------------

  const fmtRate = (r) =>
    r === null || r === undefined
      ? "–"
      : r >= 1000
        ? `${(r / 1000).toFixed(r >= 10_000 ? 0 : 1)}k`
        : r >= 10
          ? r.toFixed(0)
          : r.toFixed(r === 0 ? 0 : 1);
  const fmtMs = (ms) =>
    ms === null || ms === undefined || !Number.isFinite(ms)
      ? "–"
      : ms >= 1000
        ? `${(ms / 1000).toFixed(2)} s`
        : ms >= 10
          ? `${ms.toFixed(0)} ms`
          : ms >= 1
            ? `${ms.toFixed(1)} ms`
            : `${(ms * 1000).toFixed(0)} µs`;
  const fmtBytes = (b) => {
    if (b === null || b === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) {
      b /= 1024;
      i++;
    }
    return `${b.toFixed(b >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
  };
  const fmtPct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(0)}%`);
  const fmtDuration = (s) => {
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
  };

  /** Element-wise difference of two bucket arrays (a missing previous array counts as zeros). */
  const diff = (now, before) => now.map((v, i) => v - (before?.[i] || 0));
  const sumArrays = (arrays, length) => {
    const out = new Array(length).fill(0);
    for (const a of arrays) {
      for (let i = 0; i < a.length; i++) out[i] += a[i];
    }
    return out;
  };

  /**
   * The q-quantile of a histogram (per-bucket counts, +Inf last) by linear interpolation inside
   * the bucket, as Prometheus's histogram_quantile does; null without observations.
   */
  function quantile(q, counts, bounds) {
    const total = counts.reduce((a, b) => a + b, 0);
    if (total <= 0) return null;
    const target = q * total;
    let cum = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i];
      if (cum + c >= target && c > 0) {
        const lower = i === 0 ? 0 : bounds[i - 1];
        const upper = i < bounds.length ? bounds[i] : bounds[bounds.length - 1];
        return lower + (upper - lower) * ((target - cum) / c);
      }
      cum += c;
    }
    return bounds[bounds.length - 1];
  }

  const keyOf = (m) => `${m.name}@${m.version}`;

  // ---- derived points --------------------------------------------------------------------

  function derive(prev, snap) {
    const dt = (snap.time_ms - prev.time_ms) / 1000;
    if (dt <= 0) return null;
    const before = new Map(prev.models.map((m) => [keyOf(m), m]));
    const bounds = snap.buckets.duration_s;
    const point = {
      t: snap.time_ms,
      rate: {},
      fail: {},
      queueMs: {},
      p50: {},
      p99: {},
      total: 0,
      failTotal: 0,
    };
    const latencyDeltas = [];
    let queueNs = 0;
    let queueCount = 0;
    for (const m of snap.models) {
      const p = before.get(keyOf(m));
      const dSuccess = m.success - (p ? p.success : 0);
      const dFail = m.fail - (p ? p.fail : 0);
      const rate = Math.max(0, (dSuccess + dFail) / dt);
      point.rate[keyOf(m)] = rate;
      point.fail[keyOf(m)] = Math.max(0, dFail / dt);
      point.total += rate;
      point.failTotal += Math.max(0, dFail / dt);
      const dQueue = m.queue_ns - (p ? p.queue_ns : 0);
      point.queueMs[keyOf(m)] = dSuccess > 0 ? dQueue / dSuccess / 1e6 : null;
      queueNs += dQueue;
      queueCount += dSuccess;
      const d = diff(m.latency, p?.latency);
      latencyDeltas.push(d);
      point.p50[keyOf(m)] = ms(quantile(0.5, d, bounds));
      point.p99[keyOf(m)] = ms(quantile(0.99, d, bounds));
    }
    const all = sumArrays(latencyDeltas, bounds.length + 1);
    point.all = {
      p50: ms(quantile(0.5, all, bounds)),
      p95: ms(quantile(0.95, all, bounds)),
      p99: ms(quantile(0.99, all, bounds)),
      queue: queueCount > 0 ? queueNs / queueCount / 1e6 : null,
    };
    point.cpu = snap.cpu;
    point.gpus = snap.gpus;
    return point;
  }
  const ms = (s) => (s === null ? null : s * 1000);

  // ---- charts ----------------------------------------------------------------------------

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function setupCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const style = getComputedStyle(document.body);
    return {
      ctx,
      w,
      h,
      text: style.getPropertyValue("--muted").trim() || "#888",
      grid: style.getPropertyValue("--line").trim() || "#333",
    };
  }

  /**
   * Times (in ms) on one unit for the whole chart, the one that suits its largest value: the
   * axis, the caption and `data-unit` say the same (µs below a millisecond).
   */
  function timeFormat(maxMs) {
    if (maxMs <= 1) return { unit: "µs", format: (v) => (v * 1000).toFixed(0) };
    if (maxMs > 1000) return { unit: "s", format: (v) => (v / 1000).toFixed(v >= 10_000 ? 0 : 1) };
    return { unit: "ms", format: (v) => v.toFixed(maxMs < 10 ? 1 : 0) };
  }

  /** Line chart of `series` ([{label, color, values, dash?}]) over the last WINDOW points. */
  function lineChart(canvas, series, format, fixedMax) {
    const { ctx, w, h, text, grid } = setupCanvas(canvas);
    const left = 56;
    const right = 8;
    const top = 8;
    const bottom = 18;
    let max = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
    const yMax = fixedMax ?? niceMax(max * 1.1);
    if (format === "time") {
      const t = timeFormat(yMax);
      format = t.format;
      canvas.dataset.unit = t.unit;
      const caption = document.getElementById(`unit-${canvas.id.replace("chart-", "")}`);
      if (caption) caption.textContent = t.unit;
    }
    const x = (i) => left + ((w - left - right) * i) / (WINDOW - 1);
    const y = (v) => top + (h - top - bottom) * (1 - Math.min(v, yMax) / yMax);
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const v = (yMax * k) / 4;
      ctx.strokeStyle = grid;
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y(v)) + 0.5);
      ctx.lineTo(w - right, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillStyle = text;
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(format(v), left - 6, y(v));
    }
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(`−${Math.round((WINDOW * INTERVAL_MS) / 1000)}s`, left, h - 4);
    ctx.textAlign = "right";
    ctx.fillText("now", w - right, h - 4);
    ctx.lineWidth = 1.6;
    for (const s of series) {
      const offset = WINDOW - s.values.length;
      ctx.strokeStyle = s.color;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null) {
          pen = false;
          return;
        }
        if (pen) ctx.lineTo(x(offset + i), y(v));
        else ctx.moveTo(x(offset + i), y(v));
        pen = true;
      });
      ctx.stroke();
    }
    ctx.setLineDash([]);
    canvas.dataset.max = String(max);
  }

  /** Bar chart of [{label, value}]. */
  function barChart(canvas, bars) {
    const { ctx, w, h, text, grid } = setupCanvas(canvas);
    const left = 56;
    const top = 8;
    const bottom = 18;
    const max = niceMax(Math.max(0, ...bars.map((b) => b.value)) * 1.1);
    const y = (v) => top + (h - top - bottom) * (1 - v / max);
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      ctx.strokeStyle = grid;
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y(v)) + 0.5);
      ctx.lineTo(w - 8, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillStyle = text;
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(fmtRate(v), left - 6, y(v));
    }
    const slot = (w - left - 8) / Math.max(1, bars.length);
    bars.forEach((b, i) => {
      const x0 = left + i * slot + slot * 0.15;
      ctx.fillStyle = PALETTE[0];
      ctx.fillRect(x0, y(b.value), slot * 0.7, y(0) - y(b.value));
      ctx.fillStyle = text;
      ctx.textAlign = "center";
      ctx.textBaseline = "alphabetic";
      ctx.fillText(b.label, x0 + slot * 0.35, h - 4);
    });
    canvas.dataset.total = String(bars.reduce((a, b) => a + b.value, 0));
  }

  function legend(el, items) {
    el.replaceChildren(
      ...items.map((it) => {
        const span = document.createElement("span");
        const swatch = document.createElement("i");
        swatch.style.background = it.color;
        const value = document.createElement("b");
        value.textContent = it.value;
        span.append(swatch, document.createTextNode(it.label), value);
        return span;
      }),
    );
  }

  // ---- rendering -------------------------------------------------------------------------

  function renderHeader(snap) {
    // The brand already says "tensorbind": show the server id only when --id set another.
    const named = snap.server.id !== "tensorbind";
    $("server-id").textContent = named ? snap.server.id : "";
    const ready = $("ready");
    ready.textContent = snap.server.ready ? "ready" : "not ready";
    ready.className = `pill ${snap.server.ready ? "ok" : "bad"}`;
    $("version").textContent = `v${snap.server.version}`;
    $("uptime").textContent = `up ${fmtDuration(snap.server.uptime_s)}`;
    const metrics = snap.server.urls.metrics;
    const link = $("metrics-link");
    if (metrics && !link.firstChild) {
      const a = document.createElement("a");
      a.href = metrics;
      a.textContent = "metrics";
      link.append(a);
    }
    document.title = named ? `tensorbind · ${snap.server.id}` : "tensorbind";
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  const shape = (s) => `${s.name} ${s.datatype}[${s.shape.join(",")}]`;
  /** Dynamic batching in a few words, from Triton's model config. */
  const batching = (config) => {
    const d = config?.dynamic_batching;
    if (!d) return "–";
    const parts = [`≤ ${fmtMs(d.max_queue_delay_microseconds / 1000)} wait`];
    if (d.preferred_batch_size?.length) parts.push(`preferred ${d.preferred_batch_size.join(", ")}`);
    if (d.priority_levels > 0) parts.push(`${d.priority_levels} priorities`);
    return `dynamic, ${parts.join(", ")}`;
  };

  function renderModels(snap, point) {
    const tbody = $("models").querySelector("tbody");
    const rows = snap.models.map((m) => {
      const key = keyOf(m);
      const tr = document.createElement("tr");
      tr.dataset.model = m.name;
      tr.dataset.version = m.version;
      const state = document.createElement("span");
      state.className = `pill ${m.state === "READY" ? "ok" : m.state === "LOADING" ? "warn" : "bad"}`;
      state.textContent = m.state.toLowerCase();
      if (m.reason) state.title = m.reason;
      if (m.config) tr.title = JSON.stringify(m.config, null, 1);
      const stateCell = document.createElement("td");
      stateCell.append(state);
      const nameCell = cell(m.name);
      nameCell.style.borderLeft = `3px solid ${modelColor(key)}`;
      tr.append(
        nameCell,
        cell(m.version),
        stateCell,
        cell(m.backend),
        cell(m.instances === null ? "–" : String(m.instances), "num"),
        cell(m.max_batch_size === null ? "–" : String(m.max_batch_size), "num"),
        cell(batching(m.config), "batching"),
        cell(`${m.inputs.map(shape).join(", ")} → ${m.outputs.map(shape).join(", ")}`, "io"),
        cell(point ? fmtRate(point.rate[key]) : "–", "num rate"),
        cell(point ? fmtMs(point.p50[key]) : "–", "num"),
        cell(point ? fmtMs(point.p99[key]) : "–", "num"),
        cell(String(m.pending), "num"),
        cell(String(m.executing), "num"),
        cell(String(m.success), "num success"),
        cell(String(m.fail), "num"),
      );
      return tr;
    });
    tbody.replaceChildren(...rows);
    $("no-models").hidden = snap.models.length > 0;
  }

  function renderGpus(snap) {
    const has = snap.gpus.length > 0;
    $("gpus-section").hidden = !has;
    $("figure-gpu").hidden = !has;
    $("tile-gpu").hidden = !has;
    if (!has) return;
    const tbody = $("gpus").querySelector("tbody");
    tbody.replaceChildren(
      ...snap.gpus.map((g) => {
        const tr = document.createElement("tr");
        tr.dataset.gpu = g.uuid;
        tr.append(
          cell(String(g.index)),
          cell(g.name),
          cell(g.uuid, "io"),
          cell(fmtPct(g.utilization), "num"),
          cell(`${fmtBytes(g.memory_used_bytes)} / ${fmtBytes(g.memory_total_bytes)}`, "num"),
          cell(
            g.power_watts === null
              ? "–"
              : `${g.power_watts.toFixed(0)} W${g.power_limit_watts ? ` / ${g.power_limit_watts.toFixed(0)} W` : ""}`,
            "num",
          ),
        );
        return tr;
      }),
    );
    const avg = snap.gpus.reduce((a, g) => a + (g.utilization || 0), 0) / snap.gpus.length;
    $("t-gpu").textContent = fmtPct(avg);
  }

  function renderCharts(snap) {
    const keys = snap.models.map(keyOf);
    const label = (key) => {
      const [name, version] = key.split("@");
      return snap.models.filter((m) => m.name === name).length > 1 ? `${name} v${version}` : name;
    };
    const last = points[points.length - 1];
    // Only models that saw traffic in the window get a line, so idle models do not crowd the legend.
    const active = keys.filter((k) => points.some((p) => (p.rate[k] || 0) > 0));
    const rateSeries = active.map((k) => ({
      label: label(k),
      color: modelColor(k),
      values: points.map((p) => (p.rate[k] === undefined ? null : p.rate[k])),
      value: fmtRate(last ? last.rate[k] : null),
    }));
    // Failures per model: a dashed line in the model's colour, on the same chart.
    const failing = keys.filter((k) => points.some((p) => (p.fail[k] || 0) > 0));
    const failSeries = failing.map((k) => ({
      label: `${label(k)} failures`,
      color: modelColor(k),
      dash: [4, 3],
      values: points.map((p) => (p.fail[k] === undefined ? null : p.fail[k])),
      value: fmtRate(last ? last.fail[k] : null),
    }));
    const rateCanvas = $("chart-rate");
    lineChart(rateCanvas, [...rateSeries, ...failSeries], fmtRate);
    rateCanvas.dataset.total = String(last ? last.total : 0);
    rateCanvas.dataset.failing = failing.map(label).join(",");
    legend(
      $("legend-rate"),
      rateSeries.length
        ? [...rateSeries, ...failSeries]
        : [{ label: "no traffic yet", color: "transparent", value: "" }],
    );

    const lat = [
      { label: "p50", color: PALETTE[1], pick: (p) => p.all.p50 },
      { label: "p95", color: PALETTE[2], pick: (p) => p.all.p95 },
      { label: "p99", color: PALETTE[3], pick: (p) => p.all.p99 },
    ].map((s) => ({ ...s, values: points.map(s.pick) }));
    lineChart($("chart-latency"), lat, "time");
    legend(
      $("legend-latency"),
      lat.map((s) => ({ ...s, value: fmtMs(last ? s.pick(last) : null) })),
    );

    const queueSeries = active.map((k) => ({
      label: label(k),
      color: modelColor(k),
      values: points.map((p) => (p.queueMs[k] === undefined ? null : p.queueMs[k])),
    }));
    lineChart($("chart-queue"), queueSeries, "time");
    legend(
      $("legend-queue"),
      queueSeries.map((s, i) => ({ ...s, value: fmtMs(last ? last.queueMs[active[i]] : null) })),
    );

    // Executions by batch size over the last minute (or since the page opened).
    const then = snapshots.find((s) => snap.time_ms - s.time_ms <= BATCH_WINDOW_MS) || snapshots[0];
    const thenByKey = new Map((then ? then.models : []).map((m) => [keyOf(m), m]));
    const batchBounds = snap.buckets.batch;
    const batch = sumArrays(
      snap.models.map((m) => diff(m.batch, then === snap ? undefined : thenByKey.get(keyOf(m))?.batch)),
      batchBounds.length + 1,
    );
    const bars = batch.map((v, i) => {
      const lo = i === 0 ? 1 : batchBounds[i - 1] + 1;
      const hi = batchBounds[i];
      const text =
        hi === undefined ? `>${batchBounds[batchBounds.length - 1]}` : lo === hi ? `${hi}` : `${lo}–${hi}`;
      return { label: text, value: v };
    });
    // Trailing empty buckets say nothing: show up to the largest batch seen (at least 1–8).
    let end = bars.length;
    while (end > 4 && bars[end - 1].value === 0) end--;
    barChart($("chart-batch"), bars.slice(0, end));
    const execs = batch.reduce((a, b) => a + b, 0);
    legend($("legend-batch"), [{ label: "executions", color: PALETTE[0], value: fmtRate(execs) }]);

    const cpu = [
      { label: "CPU", color: PALETTE[0], pick: (p) => (p.cpu ? p.cpu.utilization * 100 : null) },
      {
        label: "memory",
        color: PALETTE[4],
        pick: (p) => (p.cpu ? (100 * p.cpu.memory_used_bytes) / p.cpu.memory_total_bytes : null),
      },
    ].map((s) => ({ ...s, values: points.map(s.pick) }));
    lineChart($("chart-cpu"), cpu, (v) => `${v.toFixed(0)}%`, 100);
    legend(
      $("legend-cpu"),
      cpu.map((s) => ({ ...s, value: last && s.pick(last) !== null ? `${s.pick(last).toFixed(0)}%` : "–" })),
    );

    if (snap.gpus.length > 0) {
      const gpuSeries = snap.gpus.flatMap((g) => [
        {
          label: `GPU ${g.index}`,
          color: colorFor(`gpu:${g.uuid}`),
          pick: (p) => {
            const x = (p.gpus || []).find((y) => y.uuid === g.uuid);
            return x && x.utilization !== null ? x.utilization * 100 : null;
          },
        },
        {
          label: `GPU ${g.index} memory`,
          color: colorFor(`gpumem:${g.uuid}`),
          pick: (p) => {
            const x = (p.gpus || []).find((y) => y.uuid === g.uuid);
            return x?.memory_total_bytes ? (100 * x.memory_used_bytes) / x.memory_total_bytes : null;
          },
        },
      ]);
      const series = gpuSeries.map((s) => ({ ...s, values: points.map(s.pick) }));
      lineChart($("chart-gpu"), series, (v) => `${v.toFixed(0)}%`, 100);
      legend(
        $("legend-gpu"),
        series.map((s) => ({
          ...s,
          value: last && s.pick(last) !== null ? `${s.pick(last).toFixed(0)}%` : "–",
        })),
      );
    }
  }

  function renderTiles(snap, point) {
    $("t-rate").textContent = point ? fmtRate(point.total) : "–";
    $("t-p50").textContent = point ? fmtMs(point.all.p50) : "–";
    $("t-p99").textContent = point ? fmtMs(point.all.p99) : "–";
    $("t-queue").textContent = point ? fmtMs(point.all.queue) : "–";
    $("t-fail").textContent = point ? fmtRate(point.failTotal) : "–";
    $("t-cpu").textContent = snap.cpu ? fmtPct(snap.cpu.utilization) : "–";
  }

  /** Adds a snapshot to the points; returns the new point (null for the first one). */
  function ingest(snap) {
    const prev = snapshots[snapshots.length - 1];
    const point = prev && snap.time_ms > prev.time_ms ? derive(prev, snap) : null;
    if (point) {
      points.push(point);
      if (points.length > WINDOW) points.shift();
    }
    snapshots.push(snap);
    while (snapshots.length > 2 && snap.time_ms - snapshots[1].time_ms > BATCH_WINDOW_MS) snapshots.shift();
    return point;
  }

  function update(snap) {
    const point = ingest(snap);
    renderHeader(snap);
    renderTiles(snap, point);
    renderModels(snap, point);
    renderGpus(snap);
    renderCharts(snap);
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  async function poll() {
    const conn = $("conn");
    try {
      const res = await fetch("/dashboard/api/snapshot", { cache: "no-store" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      update(await res.json());
      conn.className = "conn ok";
      conn.title = "connected";
    } catch (err) {
      conn.className = "conn bad";
      conn.title = `cannot reach the server: ${err.message}`;
    } finally {
      setTimeout(poll, INTERVAL_MS);
    }
  }

  $("poll-note").textContent =
    `, polled every ${INTERVAL_MS >= 1000 ? `${INTERVAL_MS / 1000} s` : `${INTERVAL_MS} ms`}`;
  // The server keeps the last few minutes: the charts start full, not empty.
  fetch("/dashboard/api/history", { cache: "no-store" })
    .then((res) => (res.ok ? res.json() : { snapshots: [] }))
    .then((h) => {
      for (const snap of h.snapshots) ingest(snap);
      document.body.dataset.history = String(h.snapshots.length);
    })
    .catch(() => {})
    .finally(poll);
})();

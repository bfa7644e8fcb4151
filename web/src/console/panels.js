// Breaker, cache, catalog sync, streams and search analytics panels.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { bytes, count, percent } from "../shared/format.js";
import { Sparkline } from "./sparkline.js";

export function BreakerPanel({ breaker, onMode }) {
  if (!breaker) return html`<p class="empty">No breaker in this actor tree.</p>`;
  const calls = breaker.calls || {};
  return html`
    <p class="big"><span class=${`state state-${breaker.state}`}>${breaker.state.replace("_", " ")}</span>
      <span class="muted"> mode ${breaker.mode}</span></p>
    <dl class="facts">
      <dt>Failure rate</dt><dd>${percent(breaker.failure_rate)} (opens at ${percent(breaker.failure_threshold, 0)})</dd>
      <dt>Slow calls</dt><dd>${percent(breaker.slow_call_rate)}</dd>
      <dt>Window</dt><dd>${count(breaker.buffered_calls)} of ${count(breaker.window_size)} calls (judges from ${count(breaker.minimum_calls)})</dd>
      ${breaker.retry_after !== null && html`<dt>Retry after</dt><dd>${Math.ceil(breaker.retry_after)} s</dd>`}
      <dt>Calls</dt><dd>${Object.entries(calls).map(([k, v]) => `${k} ${count(v)}`).join(" · ")}</dd>
      <dt>Transitions</dt>
      <dd>${breaker.transitions_by.length
        ? breaker.transitions_by.map((t) => `${t.from} → ${t.to} ×${t.count}`).join(" · ")
        : "none"}${breaker.last_transition ? ` (last: ${breaker.last_transition})` : ""}</dd>
    </dl>
    <div class="actions">
      <button type="button" class="danger" onClick=${() => onMode("forced_open")}>Force open</button>
      <button type="button" onClick=${() => onMode("disabled")}>Disable</button>
      <button type="button" onClick=${() => onMode("auto")}>Reset</button>
    </div>
  `;
}

export function CachePanel({ cache, history, onInvalidate }) {
  const [pattern, setPattern] = useState("");
  if (!cache) return html`<p class="empty">No cache actor in this tree.</p>`;
  const s = cache.summary || {};
  function submit(event) {
    event.preventDefault();
    if (pattern.trim()) onInvalidate(pattern.trim());
  }
  return html`
    <p class="big">${percent(s.hit_ratio)} <span class="muted">hit ratio</span></p>
    <${Sparkline} values=${history.hitRatio} max=${1} label=${`Cache hit ratio, last ${history.hitRatio.length} samples`} />
    <dl class="facts">
      <dt>Entries</dt><dd>${count(s.entries)} of ${count(s.max_entries)}</dd>
      <dt>Size</dt><dd>${bytes(s.bytes)} of ${bytes(s.max_bytes)}</dd>
      <dt>Tiers</dt><dd>L1 ${s.l1 || "?"} · L2 ${s.l2 || "?"}</dd>
      <dt>Lookups</dt><dd>${s.lookups ? Object.entries(s.lookups).map(([k, v]) => `${k} ${count(v)}`).join(" · ") : "–"}</dd>
      <dt>Stale served</dt><dd>${count(s.stale_served)} (if-error ${count(s.stale_if_error)})</dd>
    </dl>
    <form class="inline-form" onSubmit=${submit}>
      <label>Cache key pattern
        <input type="text" value=${pattern} placeholder="anime:GR751KNZY|*" maxlength="256"
          onInput=${(e) => setPattern(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled=${!pattern.trim()}>Invalidate</button>
    </form>
  `;
}

export function SyncPanel({ sync, onSync }) {
  if (!sync) return html`<p class="empty">No catalog sync job on this replica.</p>`;
  return html`
    <p class="big">${sync.running ? "Running" : sync.loaded ? "Loaded" : "Empty"}
      <span class="muted"> ${count(sync.series_count)} series</span></p>
    ${sync.running && html`<progress max="1" value=${sync.progress ?? undefined} aria-label="Sync progress">${percent(sync.progress, 0)}</progress>`}
    <dl class="facts">
      <dt>Last run</dt><dd>${sync.last_run ? new Date(sync.last_run).toLocaleString("en-GB") : "never"}</dd>
      <dt>Result</dt><dd>${sync.last_result || "–"}</dd>
      ${sync.last_error && html`<dt>Error</dt><dd class="failure">${sync.last_error}</dd>`}
    </dl>
    <div class="actions"><button type="button" onClick=${onSync} disabled=${sync.running}>Sync now</button></div>
  `;
}

export function StreamsPanel({ bandwidth, streams, history }) {
  if (!bandwidth) return html`<p class="empty">No stream statistics.</p>`;
  const latest = history.kbps.length ? history.kbps[history.kbps.length - 1] : 0;
  return html`
    <p class="big">${count(Math.round(latest))} <span class="muted">kbit/s reported · ${count(streams)} open streams</span></p>
    <${Sparkline} values=${history.kbps} label=${`Players' reported bandwidth, last ${history.kbps.length} samples`} />
    <div class="table-wrap" tabindex="0" role="region" aria-label="Bandwidth by quality (scrolls sideways)">
    <table class="compact">
      <thead><tr><th scope="col">Quality</th><th scope="col">Reports</th><th scope="col">Average</th><th scope="col">Received</th><th scope="col">Underruns</th></tr></thead>
      <tbody>
        ${Object.entries(bandwidth).map(([q, s]) => html`<tr key=${q}>
          <th scope="row">${q}</th><td>${count(s.reports)}</td><td>${count(Math.round(s.average_kbps))} kbit/s</td>
          <td>${bytes(s.bytes)}</td><td>${count(s.underruns)}</td></tr>`)}
      </tbody>
    </table>
    </div>
  `;
}

export function ProcessPanel({ state, history }) {
  return html`
    <dl class="facts">
      <dt>Uptime</dt><dd>${Math.round(state.uptime_s)} s</dd>
      <dt>Requests in flight</dt><dd>${count(state.in_flight)}</dd>
      <dt>Event loop lag</dt><dd>${state.loop_lag_ms.toFixed(1)} ms</dd>
    </dl>
    <${Sparkline} values=${history.lag} label=${`Event loop lag in ms, last ${history.lag.length} samples`} />
  `;
}

export function SearchPanel({ analytics, error, onRefresh }) {
  return html`
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${analytics && html`
      <div class="two">
        <div>
          <h3>Top queries</h3>
          ${analytics.top_queries.length
            ? html`<ol class="queries">${analytics.top_queries.map((q) => html`<li><span>${q.query}</span> <span class="muted">${count(q.count)}</span></li>`)}</ol>`
            : html`<p class="empty">No searches yet.</p>`}
        </div>
        <div>
          <h3>Queries with no result</h3>
          ${analytics.zero_result_queries.length
            ? html`<ol class="queries">${analytics.zero_result_queries.map((q) => html`<li><span>${q.query}</span> <span class="muted">${count(q.count)}</span></li>`)}</ol>`
            : html`<p class="empty">None.</p>`}
        </div>
      </div>
      <p class="muted">Last ${Math.round(analytics.window_s / 3600)} h; ${count(analytics.recorder.recorded)} searches recorded here.</p>`}
    <div class="actions"><button type="button" onClick=${onRefresh}>Refresh</button></div>
  `;
}

// The operator console: token once (session storage), then the live feed and the actions.
import { html } from "htm/preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, isAbort, request } from "../shared/api.js";
import { ConfirmDialog, confirmAction } from "./confirm.js";
import { TokenRefused, follow } from "./feed.js";
import { FlagsPanel } from "./flags.js";
import { BreakerPanel, CachePanel, ProcessPanel, SearchPanel, StreamsPanel, SyncPanel } from "./panels.js";
import { SupervisionTree, findActor } from "./tree.js";

const TOKEN_KEY = "kensho.adminToken";
const SAMPLES = 120; // one per feed event: a minute of trend
const ANALYTICS_MS = 30_000;

function TokenForm({ onToken, refused }) {
  const [value, setValue] = useState("");
  return html`
    <section class="token card">
      <h1>Kenshō operator console</h1>
      <form onSubmit=${(e) => { e.preventDefault(); if (value.trim()) onToken(value.trim()); }} class="stack">
        <label for="admin-token">Admin token</label>
        <input id="admin-token" type="password" autocomplete="off" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} required />
        <button type="submit" class="primary">Connect</button>
        <p class="error" role="alert">${refused ? "The server refused this token." : ""}</p>
      </form>
      <p class="muted">The token (<code>KENSHO_ADMIN_TOKEN</code>) stays in this tab's session storage.</p>
    </section>
  `;
}

function Panel({ id, title, wide = false, children }) {
  return html`<section class=${wide ? "card wide" : "card"} aria-labelledby=${`${id}-heading`}>
    <h2 id=${`${id}-heading`}>${title}</h2>
    ${children}
  </section>`;
}

function push(list, value) {
  const next = [...list, value];
  return next.length > SAMPLES ? next.slice(next.length - SAMPLES) : next;
}

function totalBytes(bandwidth) {
  return bandwidth ? Object.values(bandwidth).reduce((sum, q) => sum + q.bytes, 0) : 0;
}

function Console({ token, onRefused }) {
  const [state, setState] = useState(null);
  const [status, setStatus] = useState("connecting");
  const [history, setHistory] = useState({ hitRatio: [], kbps: [], lag: [] });
  const [log, setLog] = useState([]);
  const [analytics, setAnalytics] = useState({ data: null, error: null });
  const previous = useRef(null);

  const say = useCallback((text, bad = false) => {
    setLog((l) => [{ text, bad, at: new Date().toLocaleTimeString("en-GB") }, ...l].slice(0, 6));
  }, []);

  const admin = useCallback(
    (path, options = {}) =>
      request(path, { ...options, token }).catch((err) => {
        if (err instanceof ApiError && (err.status === 401 || err.status === 404)) onRefused();
        throw err;
      }),
    [token, onRefused],
  );

  useEffect(() => {
    const controller = new AbortController();
    follow(token, {
      signal: controller.signal,
      onStatus: setStatus,
      onState(next) {
        setState(next);
        const cache = findActor(next.tree, "cache");
        const before = previous.current;
        const kbps = before && next.at > before.at
          ? ((totalBytes(next.bandwidth) - totalBytes(before.bandwidth)) * 8) / 1000 / (next.at - before.at)
          : 0;
        previous.current = next;
        setHistory((h) => ({
          hitRatio: push(h.hitRatio, cache && cache.summary ? cache.summary.hit_ratio ?? 0 : 0),
          kbps: push(h.kbps, Math.max(0, kbps)),
          lag: push(h.lag, next.loop_lag_ms),
        }));
      },
    }).catch((err) => {
      if (err instanceof TokenRefused) onRefused();
      else if (!isAbort(err)) setStatus("reconnecting");
    });
    return () => controller.abort();
  }, [token]);

  const loadAnalytics = useCallback(() => {
    admin("/admin/search/analytics?window=24h&limit=10")
      .then((data) => setAnalytics({ data, error: null }))
      .catch((err) => setAnalytics((a) => ({ ...a, error: err.message })));
  }, [admin]);

  useEffect(() => {
    loadAnalytics();
    const timer = setInterval(loadAnalytics, ANALYTICS_MS);
    return () => clearInterval(timer);
  }, [loadAnalytics]);

  async function act(question, action, run, done) {
    if (!(await confirmAction(question, action))) return;
    try {
      say(done(await run()));
    } catch (err) {
      say(`${action} failed: ${err.message}`, true);
    }
  }

  const restart = (name) =>
    act(`Restart the ${name} actor? Its mailbox is stashed and replayed.`, "Restart",
      () => admin(`/admin/actors/${encodeURIComponent(name)}/restart`, { method: "POST" }),
      () => `Restarted ${name}.`);
  const breakerMode = (mode) => {
    const what = { forced_open: "Force the breaker open? Every upstream call fails fast.", disabled: "Disable the breaker? Upstream calls are never refused.", auto: "Reset the breaker to automatic?" }[mode];
    return act(what, { forced_open: "Force open", disabled: "Disable", auto: "Reset" }[mode],
      () => admin("/admin/breaker", { method: "POST", body: { mode } }),
      (view) => `Breaker is ${view.state} (mode ${view.mode}).`);
  };
  const invalidate = (pattern) =>
    act(`Invalidate every cache key matching “${pattern}” on every replica?`, "Invalidate",
      () => admin("/admin/cache/invalidate", { method: "POST", body: { pattern } }),
      (body) => `Invalidated ${body.invalidated} key(s) matching “${body.pattern}”.`);
  const describeSetting = (s) => {
    const rolled = Object.entries(s.rollout).map(([v, p]) => `${v} to ${p} %`).join(", ");
    return `${s.enabled ? "on" : "off"}, default ${s.default_variant}${rolled ? `, ${rolled}` : ""}`;
  };
  const saveFlag = (key, setting) =>
    act(`Set ${key} for the whole fleet: ${describeSetting(setting)}?`, "Apply",
      () => admin(`/admin/flags/${encodeURIComponent(key)}`, { method: "PUT", body: setting }),
      (flag) => `${flag.key} is now ${describeSetting(flag.setting)} on every replica.`);
  const resetFlag = (key) =>
    act(`Drop the fleet's override of ${key}? Every replica goes back to its configured setting.`, "Reset",
      () => admin(`/admin/flags/${encodeURIComponent(key)}`, { method: "DELETE" }),
      (flag) => `${flag.key} is back to its ${flag.source === "config" ? "configured" : "built-in"} setting.`);
  const sync = () =>
    act("Start a catalog sync now?", "Sync now",
      () => admin("/admin/catalog/sync", { method: "POST" }),
      () => "Catalog sync started.");

  const labels = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", draining: "Server shutting down" };
  const session = findActor(state && state.tree, "session_pool");
  return html`
    <header class="console-header">
      <h1>Kenshō operator console</h1>
      <p class=${`connection connection-${status}`} role="status">${labels[status] || status}${state && state.draining ? " · draining" : ""}</p>
      <button type="button" onClick=${onRefused}>Forget token</button>
    </header>
    <div class="log" role="log" aria-label="Actions" aria-live="polite">
      ${log.map((entry) => html`<p class=${entry.bad ? "error" : ""}>${entry.at} ${entry.text}</p>`)}
    </div>
    ${!state ? html`<p class="empty">Waiting for the first update…</p>` : html`
      <main class="panels">
        <${Panel} id="tree" title="Supervision tree" wide>
          <${SupervisionTree} tree=${state.tree} onRestart=${restart} />
        <//>
        <${Panel} id="breaker" title="Upstream breaker">
          <${BreakerPanel} breaker=${state.breaker} onMode=${breakerMode} />
        <//>
        <${Panel} id="cache" title="Cache">
          <${CachePanel} cache=${findActor(state.tree, "cache")} history=${history} onInvalidate=${invalidate} />
        <//>
        <${Panel} id="sync" title="Catalog sync">
          <${SyncPanel} sync=${state.sync} onSync=${sync} />
        <//>
        <${Panel} id="streams" title="Streams">
          <${StreamsPanel} bandwidth=${state.bandwidth} streams=${session && session.summary ? session.summary.streams : 0} history=${history} />
        <//>
        <${Panel} id="process" title="Process">
          <${ProcessPanel} state=${state} history=${history} />
        <//>
        <${Panel} id="flags" title="Feature flags" wide>
          <${FlagsPanel} flags=${state.flags} onSave=${saveFlag} onReset=${resetFlag} />
        <//>
        <${Panel} id="search" title="Search analytics" wide>
          <${SearchPanel} analytics=${analytics.data} error=${analytics.error} onRefresh=${loadAnalytics} />
        <//>
      </main>`}
    <${ConfirmDialog} />
  `;
}

export function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY));
  const [refused, setRefused] = useState(false);
  const onToken = (value) => {
    sessionStorage.setItem(TOKEN_KEY, value);
    setRefused(false);
    setToken(value);
  };
  const onRefused = useCallback(() => {
    sessionStorage.removeItem(TOKEN_KEY);
    setRefused(true);
    setToken(null);
  }, []);
  return token
    ? html`<${Console} key=${token} token=${token} onRefused=${onRefused} />`
    : html`<main><${TokenForm} onToken=${onToken} refused=${refused} /></main>`;
}

// What the viewer is told about failures: "Crunchyroll is unavailable, retrying in N s",
// a rate limit wait, the network being gone. Each waiting call owns one notice; the banner
// shows the most urgent one and counts down to its retry.
import { html } from "htm/preact";
import { ApiError, NetworkError, isAbort, sleep } from "../shared/api.js";
import { store, useStore, useTick } from "../shared/store.js";

export const notices = store(new Map());
export const online = store(navigator.onLine);
addEventListener("online", () => online.set(true));
addEventListener("offline", () => online.set(false));

let nextId = 1;

function put(id, notice) {
  notices.set((map) => new Map(map).set(id, notice));
}

function drop(id) {
  notices.set((map) => {
    if (!map.has(id)) return map;
    const next = new Map(map);
    next.delete(id);
    return next;
  });
}

function upstream(err) {
  return err.kind === "circuit-open" || err.kind.startsWith("upstream");
}

function noticeFor(err, seconds) {
  const until = Date.now() + seconds * 1000;
  if (err instanceof NetworkError) return { kind: "network", until, seconds };
  if (err.status === 429) {
    return { kind: err.kind === "too-many-active-streams" ? "streams" : "rate", until, seconds };
  }
  return { kind: upstream(err) ? "upstream" : "service", until, seconds };
}

function retryable(err) {
  return err instanceof NetworkError || (err instanceof ApiError && (err.status === 503 || err.status === 429));
}

/**
 * Run `call` until it succeeds: a 503 or 429 waits for its Retry-After (5 s without one) and
 * tries again, a lost network waits 5 s, showing a notice meanwhile. Other errors and aborts
 * are thrown. The notice goes away with success or abort.
 */
export async function resilient(call, signal) {
  const id = nextId++;
  try {
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (isAbort(err) || !retryable(err)) throw err;
        const wait = err instanceof NetworkError ? 5 : Math.max(1, Math.ceil(err.retryAfter ?? 5));
        put(id, noticeFor(err, wait));
        await sleep(wait * 1000, signal);
      }
    }
  } finally {
    drop(id);
  }
}

const urgency = { network: 5, upstream: 4, service: 3, streams: 2, rate: 1 };

function text(kind, left) {
  switch (kind) {
    case "upstream":
      return `Crunchyroll is unavailable, retrying in ${left} s`;
    case "service":
      return `Kenshō is unavailable, retrying in ${left} s`;
    case "streams":
      return `Your account is playing as many streams as it may: trying again in ${left} s`;
    case "rate":
      return `Too many requests: waiting ${left} s before trying again`;
    default:
      return `Kenshō cannot be reached, retrying in ${left} s`;
  }
}

/** The countdown for the eyes; screen readers hear the notice once, not every second. */
function Notice({ notice }) {
  const left = Math.max(0, Math.ceil((notice.until - Date.now()) / 1000));
  return html`<p class=${`notice notice-${notice.kind}`}>
    <span aria-hidden="true">${text(notice.kind, left)}</span>
    <span class="visually-hidden">${text(notice.kind, notice.seconds)}</span>
  </p>`;
}

export function Notices() {
  const map = useStore(notices);
  const isOnline = useStore(online);
  const shown = [...map.values()].sort((a, b) => urgency[b.kind] - urgency[a.kind])[0];
  useTick(250, Boolean(shown));
  return html`
    <div class="notices" role="status" aria-live="polite">
      ${!isOnline && html`<p class="notice notice-offline">You are offline. Kenshō will carry on when the network is back.</p>`}
      ${shown && html`<${Notice} notice=${shown} />`}
    </div>
  `;
}

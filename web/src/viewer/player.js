// The player: a stream URL from Kenshō, hls.js (loaded on first play) into a <video>, a
// quality menu, subtitles, heartbeats while playing and the stream released on stop.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, isAbort, query, request } from "../shared/api.js";
import { useStore } from "../shared/store.js";
import { resilient } from "./notices.js";
import { navigate, route } from "./router.js";
import { session, sessionEnded } from "./session.js";
import { toVtt } from "./subtitles.js";

const HEARTBEAT_MS = 10_000;
const LANGUAGES = {
  "en-US": "English",
  "de-DE": "Deutsch",
  "es-419": "Español (América Latina)",
  "es-ES": "Español",
  "fr-FR": "Français",
  "pt-BR": "Português (Brasil)",
  "it-IT": "Italiano",
  "ja-JP": "日本語",
};

function loginAgain() {
  sessionEnded();
  navigate(`/login${query({ next: route.get().path, expired: 1 })}`);
}

function describe(err) {
  if (err instanceof ApiError && err.status === 403) return "This episode needs a premium account.";
  if (err instanceof ApiError && err.status === 404) return "This episode is not available.";
  return err.message || "The stream could not be started.";
}

/** Stream URL for `episodeId` at `quality` (retrying through outages and rate limits). */
function fetchStream(token, episodeId, quality, bandwidth, signal) {
  const path = `/api/episodes/${encodeURIComponent(episodeId)}/stream${query({ quality, bandwidth_kbps: bandwidth })}`;
  return resilient(() => request(path, { token, signal }), signal);
}

export function Player({ anime, episode, onClose }) {
  const current = useStore(session);
  const video = useRef(null);
  const section = useRef(null);
  const hls = useRef(null);
  const counters = useRef({ bytes: 0, since: performance.now() });
  const [stream, setStream] = useState(null);
  const [quality, setQuality] = useState("auto");
  const [subtitle, setSubtitle] = useState("");
  const [trackUrl, setTrackUrl] = useState(null);
  const [status, setStatus] = useState("Starting…");
  const [error, setError] = useState(null);
  const token = current && current.token;

  // Opened from anywhere in a long episode list: bring the player into view, focus on the video.
  useEffect(() => {
    section.current.scrollIntoView({ block: "start" });
    video.current.focus({ preventScroll: true });
  }, []);

  // Fetch the stream URL (again when the quality changes).
  useEffect(() => {
    if (!token) return undefined;
    const controller = new AbortController();
    const estimate = hls.current && hls.current.bandwidthEstimate;
    const bandwidth = quality === "auto" && estimate ? Math.round(estimate / 1000) : null;
    setError(null);
    fetchStream(token, episode.id, quality, bandwidth, controller.signal)
      .then(setStream)
      .catch((err) => {
        if (isAbort(err)) return;
        if (err instanceof ApiError && err.status === 401) loginAgain();
        else setError(describe(err));
      });
    return () => controller.abort();
  }, [token, episode.id, quality]);

  // Attach the manifest to the <video>.
  useEffect(() => {
    if (!stream) return undefined;
    let cancelled = false;
    const media = video.current;
    const resumeAt = media.currentTime;
    (async () => {
      const { default: Hls } = await import("hls.js/light");
      if (cancelled) return;
      if (Hls.isSupported()) {
        if (!hls.current) {
          const player = new Hls({ workerPath: HLS_WORKER_URL, enableWorker: true });
          player.on(Hls.Events.FRAG_LOADED, (_event, data) => {
            counters.current.bytes += (data.frag && data.frag.stats && data.frag.stats.loaded) || 0;
          });
          player.on(Hls.Events.ERROR, (_event, data) => {
            if (data.fatal) setError(`Playback failed (${data.type}: ${data.details}).`);
          });
          player.attachMedia(media);
          hls.current = player;
        }
        hls.current.loadSource(stream.manifest_url);
      } else if (media.canPlayType("application/vnd.apple.mpegurl")) {
        media.src = stream.manifest_url; // Safari plays HLS itself
      } else {
        setError("This browser cannot play HLS streams.");
        return;
      }
      if (resumeAt > 0) media.currentTime = resumeAt;
      media.play().catch(() => setStatus("Press play to start."));
    })().catch((err) => setError(`The player could not load: ${err.message}`));
    return () => {
      cancelled = true;
    };
  }, [stream]);

  // Subtitles: fetched, converted to WebVTT, given to a <track> as a blob URL.
  useEffect(() => {
    const lang = stream && stream.subtitles.find((s) => s.lang === subtitle);
    if (!lang) {
      setTrackUrl(null);
      return undefined;
    }
    const controller = new AbortController();
    let url = null;
    fetch(lang.url, { signal: controller.signal })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`subtitles answered ${r.status}`))))
      .then((text) => {
        url = URL.createObjectURL(new Blob([toVtt(lang.format, text)], { type: "text/vtt" }));
        setTrackUrl(url);
      })
      .catch((err) => isAbort(err) || setStatus(`Subtitles unavailable (${err.message}).`));
    return () => {
      controller.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [stream, subtitle]);

  useEffect(() => {
    const media = video.current;
    if (media && media.textTracks.length) {
      for (const track of media.textTracks) track.mode = trackUrl ? "showing" : "disabled";
    }
  }, [trackUrl]);

  // Heartbeats while playing; the stream is released when the player goes away.
  useEffect(() => {
    if (!token) return undefined;
    function beat(final = false) {
      const media = video.current;
      const now = performance.now();
      const { bytes, since } = counters.current;
      const seconds = (now - since) / 1000;
      if (!stream || seconds < 0.001 || (!final && (!media || media.paused)) || (final && bytes === 0)) return;
      counters.current = { bytes: 0, since: now };
      request("/api/streams/heartbeat", {
        method: "POST",
        token,
        keepalive: final,
        body: { episode_id: episode.id, quality: stream.quality, bytes, seconds: Math.min(seconds, 3600) },
      }).catch((err) => err instanceof ApiError && err.status === 401 && loginAgain());
    }
    const timer = setInterval(beat, HEARTBEAT_MS);
    return () => {
      clearInterval(timer);
      beat(true);
    };
  }, [token, stream, episode.id]);

  useEffect(() => {
    function release() {
      if (token) {
        request(`/api/episodes/${encodeURIComponent(episode.id)}/stream`, { method: "DELETE", token, keepalive: true }).catch(() => {});
      }
    }
    addEventListener("pagehide", release);
    return () => {
      removeEventListener("pagehide", release);
      if (hls.current) hls.current.destroy();
      hls.current = null;
      release();
    };
  }, [token, episode.id]);

  const title = `${anime.title}: episode ${episode.number}${episode.title ? `, ${episode.title}` : ""}`;
  return html`
    <section class="player" aria-labelledby="player-heading" ref=${section}>
      <h2 id="player-heading">Now playing <span class="player-title">${title}</span></h2>
      <video
        ref=${video}
        controls
        playsinline
        crossorigin="anonymous"
        aria-label=${`Video: ${title}`}
        onPlaying=${() => setStatus("")}
        onWaiting=${() => setStatus("Buffering…")}
      >
        ${trackUrl && html`<track kind="subtitles" src=${trackUrl} srclang=${subtitle} label=${LANGUAGES[subtitle] || subtitle} default />`}
      </video>
      <div class="player-controls">
        <label>Quality
          <select value=${quality} onChange=${(e) => setQuality(e.currentTarget.value)} disabled=${!stream}>
            <option value="auto">Auto${stream && quality === "auto" ? ` (${stream.quality})` : ""}</option>
            ${(stream ? stream.qualities : []).map((q) => html`<option value=${q}>${q}</option>`)}
          </select>
        </label>
        <label>Subtitles
          <select value=${subtitle} onChange=${(e) => setSubtitle(e.currentTarget.value)} disabled=${!stream || !stream.subtitles.length}>
            <option value="">Off</option>
            ${(stream ? stream.subtitles : []).map((s) => html`<option value=${s.lang}>${LANGUAGES[s.lang] || s.lang}</option>`)}
          </select>
        </label>
        <button type="button" onClick=${onClose}>Stop</button>
      </div>
      <p class="player-status" role="status">${error ? "" : status}</p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </section>
  `;
}

// One anime: titles, genres, rating, external links, seasons and their episodes.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, isAbort, query, request } from "../shared/api.js";
import { duration } from "../shared/format.js";
import { Poster, Rating, kindLabel } from "./cards.js";
import { resilient } from "./notices.js";
import { LoadMore, useCursorPages } from "./paging.js";
import { Player } from "./player.js";
import { Heading, Link, navigate, useRoute } from "./router.js";
import { session } from "./session.js";
import { useStore } from "../shared/store.js";

const TITLE_LANGS = [
  ["romaji", "Romaji", "ja-Latn"],
  ["en", "English", "en"],
  ["ja", "Japanese", "ja"],
  ["zh-Hans", "Chinese (simplified)", "zh-Hans"],
  ["zh-Hant", "Chinese (traditional)", "zh-Hant"],
];

const SITES = {
  crunchyroll: ["Crunchyroll", (id) => `https://www.crunchyroll.com/series/${id}`],
  mal: ["MyAnimeList", (id) => `https://myanimelist.net/anime/${id}`],
  anilist: ["AniList", (id) => `https://anilist.co/anime/${id}`],
  anidb: ["AniDB", (id) => `https://anidb.net/anime/${id}`],
  kitsu: ["Kitsu", (id) => `https://kitsu.app/anime/${id}`],
  tmdb: ["TMDB", (id) => `https://www.themoviedb.org/${id}`],
  bangumi: ["Bangumi", (id) => `https://bgm.tv/subject/${id}`],
};

function externalLinks(anime) {
  const ids = anime.external_ids || {};
  const links = Object.entries(SITES)
    .filter(([key]) => typeof ids[key] === "string" && /^[\w/.-]{1,64}$/.test(ids[key]))
    .map(([key, [label, url]]) => ({ label, href: url(encodeURI(ids[key])) }));
  if (anime.official_site && /^https?:\/\//.test(anime.official_site)) {
    links.unshift({ label: "Official site", href: anime.official_site });
  }
  return links;
}

function Episodes({ anime, season, onPlay, playing }) {
  const pages = useCursorPages(`${anime.id}|${season}`, (cursor, signal) =>
    request(`/api/anime/${encodeURIComponent(anime.id)}/episodes${query({ season, cursor, limit: 24 })}`, { signal }),
  );
  return html`
    <ol class="episodes" aria-busy=${pages.loading ? "true" : "false"}>
      ${pages.items.map(
        (ep) => html`
          <li key=${ep.id} class=${playing === ep.id ? "episode playing" : "episode"}>
            <span class="episode-number">${ep.number}</span>
            <span class="episode-title">${ep.title || `Episode ${ep.number}`}</span>
            <span class="episode-meta">
              ${duration(ep.duration_seconds)}${ep.air_date ? ` · ${ep.air_date}` : ""}
              ${ep.premium && html` <span class="badge badge-premium">Premium</span>`}
            </span>
            <button type="button" class="play" aria-label=${`Play episode ${ep.number}: ${ep.title || ""}`.trim()} onClick=${() => onPlay(ep)}>
              <span aria-hidden="true">▶</span> Play
            </button>
          </li>
        `,
      )}
      ${pages.loading && Array.from({ length: 4 }, (_, i) => html`<li key=${`s${i}`} class="episode skeleton" aria-hidden="true"><span class="skeleton-line"></span></li>`)}
    </ol>
    ${!pages.loading && !pages.error && pages.items.length === 0 && html`<p class="empty">No episodes yet.</p>`}
    <${LoadMore} pages=${pages} label="More episodes" />
  `;
}

export function AnimePage({ id }) {
  const [state, setState] = useState({ anime: null, error: null });
  const [season, setSeason] = useState(null);
  const [episode, setEpisode] = useState(null);
  const current = useStore(session);
  const { path } = useRoute();

  useEffect(() => {
    const controller = new AbortController();
    setState({ anime: null, error: null });
    setEpisode(null);
    resilient(() => request(`/api/anime/${encodeURIComponent(id)}`, { signal: controller.signal }), controller.signal)
      .then((anime) => {
        setState({ anime, error: null });
        setSeason(anime.seasons && anime.seasons.length ? anime.seasons[0].number : null);
        document.title = `${anime.title} · Kenshō`;
      })
      .catch((err) => isAbort(err) || setState({ anime: null, error: err }));
    return () => controller.abort();
  }, [id]);

  function play(ep) {
    if (!current) {
      navigate(`/login${query({ next: path })}`);
      return;
    }
    setEpisode(ep);
  }

  if (state.error) {
    const missing = state.error instanceof ApiError && state.error.status === 404;
    return html`<${Heading}>${missing ? "Not found" : "Something went wrong"}<//>
      <p>${missing ? "No anime has this id." : state.error.message}</p>
      <p><${Link} href="/">Back to browsing<//></p>`;
  }
  const anime = state.anime;
  if (!anime) {
    return html`<div class="anime skeleton" aria-busy="true"><div class="poster poster-large"></div><p class="skeleton-line"><span class="visually-hidden">Loading…</span></p></div>`;
  }
  const links = externalLinks(anime);
  const seasons = anime.seasons || [];
  const aired = [anime.start_date, anime.end_date].filter(Boolean).join(" to ");
  return html`
    <article class="anime">
      <div class="anime-head">
        <${Poster} src=${anime.images && anime.images.poster} title=${anime.title} size="large" />
        <div class="anime-facts">
          <${Heading}>${anime.title}<//>
          <p class="anime-meta">
            ${kindLabel(anime.type)}${anime.episodes ? ` · ${anime.episodes} episodes` : ""}${aired ? ` · ${aired}` : ""}
            ${" "}<${Rating} value=${anime.rating} />
          </p>
          <ul class="genres" aria-label="Genres">
            ${(anime.genres || []).map((g) => html`<li><${Link} href=${`/${query({ genre: g })}`} class="chip">${g}<//></li>`)}
          </ul>
          <dl class="titles">
            ${TITLE_LANGS.filter(([key]) => anime.titles && anime.titles[key]).map(
              ([key, label, lang]) => html`<dt>${label}</dt><dd lang=${lang}>${anime.titles[key]}</dd>`,
            )}
          </dl>
          ${links.length > 0 && html`
            <nav aria-label="Elsewhere" class="links">
              <ul>${links.map((l) => html`<li><a href=${l.href} rel="noopener noreferrer external" target="_blank">${l.label}</a></li>`)}</ul>
            </nav>`}
        </div>
      </div>
      ${episode && html`<${Player} key=${episode.id} anime=${anime} episode=${episode} onClose=${() => setEpisode(null)} />`}
      <section aria-labelledby="episodes-heading" class="episodes-section">
        <div class="episodes-head">
          <h2 id="episodes-heading">Episodes</h2>
          ${seasons.length > 1 && html`
            <label>Season
              <select value=${season} onChange=${(e) => setSeason(Number(e.currentTarget.value))}>
                ${seasons.map((s) => html`<option value=${s.number}>${s.title || `Season ${s.number}`} (${s.episode_count})</option>`)}
              </select>
            </label>`}
        </div>
        ${!current && html`<p class="hint"><${Link} href=${`/login${query({ next: path })}`}>Log in<//> to play episodes.</p>`}
        ${season !== null && html`<${Episodes} anime=${anime} season=${season} onPlay=${play} playing=${episode && episode.id} />`}
      </section>
    </article>
  `;
}

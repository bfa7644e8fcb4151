// Anime cards: poster (a titled placeholder when the image is missing), title, type, rating.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { year } from "../shared/format.js";
import { Link } from "./router.js";

export function Poster({ src, title, size = "card" }) {
  const [broken, setBroken] = useState(!src);
  if (broken) {
    return html`<div class=${`poster poster-${size} poster-missing`} aria-hidden="true"><span>${title}</span></div>`;
  }
  return html`<img
    class=${`poster poster-${size}`}
    src=${src}
    alt=""
    loading="lazy"
    decoding="async"
    width="240"
    height="360"
    onError=${() => setBroken(true)}
  />`;
}

export function Rating({ value }) {
  if (value === null || value === undefined) return null;
  return html`<span class="rating"><span aria-hidden="true">★</span> ${value.toFixed(2)}<span class="visually-hidden"> out of 10</span></span>`;
}

export function kindLabel(kind) {
  return { tv: "TV", movie: "Movie", ova: "OVA", ona: "ONA", special: "Special", music: "Music", web: "Web" }[kind] || kind || "";
}

export function AnimeCard({ anime }) {
  const meta = [kindLabel(anime.type), year(anime.start_date)].filter(Boolean).join(" · ");
  return html`
    <li class="card">
      <${Link} href=${`/anime/${encodeURIComponent(anime.id)}`} class="card-link">
        <${Poster} src=${anime.images && anime.images.poster} title=${anime.title} />
        <span class="card-title">${anime.title}</span>
      <//>
      <span class="card-meta">${meta} <${Rating} value=${anime.rating} /></span>
    </li>
  `;
}

export function SkeletonCards({ count = 8 }) {
  return Array.from(
    { length: count },
    (_, i) => html`<li class="card skeleton" aria-hidden="true" key=${`skeleton-${i}`}>
      <div class="poster poster-card"></div>
      <span class="skeleton-line"></span>
      <span class="skeleton-line short"></span>
    </li>`,
  );
}

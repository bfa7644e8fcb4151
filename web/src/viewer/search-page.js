// Search results with cursor paging; the index matches romaji, English, Japanese, typos.
import { html } from "htm/preact";
import { query, request } from "../shared/api.js";
import { Rating, SkeletonCards, kindLabel } from "./cards.js";
import { LoadMore, useCursorPages } from "./paging.js";
import { Heading, Link, useRoute } from "./router.js";

const LANGS = { romaji: "romaji", en: "English", ja: "Japanese", "zh-Hans": "Chinese", "zh-Hant": "Chinese" };

function Hit({ hit }) {
  const others = [hit.titles && hit.titles.romaji, hit.titles && hit.titles.ja].filter(
    (t) => t && t !== hit.title,
  );
  return html`
    <li class="hit">
      <${Link} href=${`/anime/${encodeURIComponent(hit.id)}`} class="hit-title">${hit.title}<//>
      ${others.length > 0 && html`<span class="hit-alt" lang="ja">${others.join(" · ")}</span>`}
      <span class="hit-meta">
        ${kindLabel(hit.type)} <${Rating} value=${hit.rating} />
        ${hit.genres && hit.genres.length > 0 && html` · ${hit.genres.slice(0, 3).join(", ")}`}
        ${hit.match_kind === "fuzzy" && html` · <em>matched “${hit.matched}” (${LANGS[hit.matched_lang] || hit.matched_lang})</em>`}
      </span>
    </li>
  `;
}

export function SearchPage() {
  const { params } = useRoute();
  const q = (params.get("q") || "").trim();
  const pages = useCursorPages(q, (cursor, signal) =>
    q ? request(`/api/search${query({ q, cursor, limit: 20 })}`, { signal }) : Promise.resolve({ items: [], next_cursor: null }),
  );
  return html`
    <${Heading}>${q ? html`Results for “${q}”` : "Search"}<//>
    <ol class="hits" aria-label="Search results" aria-busy=${pages.loading ? "true" : "false"}>
      ${pages.items.map((hit) => html`<${Hit} key=${hit.id} hit=${hit} />`)}
    </ol>
    ${pages.loading && html`<ul class="grid" aria-hidden="true"><${SkeletonCards} count=${4} /></ul>`}
    ${!pages.loading && !pages.error && q && pages.items.length === 0 && html`<p class="empty">No anime matches “${q}”.</p>`}
    <${LoadMore} pages=${pages} label="More results" />
  `;
}

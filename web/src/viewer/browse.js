// Browse: genre and type filters, sort, infinite scroll over the API's cursors.
import { html } from "htm/preact";
import { query, request } from "../shared/api.js";
import { AnimeCard, SkeletonCards, kindLabel } from "./cards.js";
import { LoadMore, useCursorPages } from "./paging.js";
import { Heading, navigate, useRoute } from "./router.js";

// There is no genre listing in the API: these are the catalog's most common genres.
export const GENRES = [
  "Action", "Adventure", "Comedy", "Drama", "Fantasy", "Historical", "Horror", "Isekai", "Kids",
  "Magic", "Martial Arts", "Mecha", "Military", "Music", "Mystery", "Psychological", "Romance",
  "School", "Sci-Fi", "Seinen", "Shoujo", "Shounen", "Slice of Life", "Space", "Sports",
  "Super Power", "Supernatural", "Thriller",
];
const KINDS = ["tv", "movie", "ova", "ona", "special", "music", "web"];
const SORTS = { popularity: "Popularity", rating: "Rating", title: "Title" };
const FIELDS = "id,title,type,rating,images,start_date";

export function BrowsePage() {
  const { params } = useRoute();
  const genre = params.get("genre") || "";
  const kind = params.get("type") || "";
  const sort = SORTS[params.get("sort")] ? params.get("sort") : "popularity";
  const key = `${genre}|${kind}|${sort}`;
  const pages = useCursorPages(key, (cursor, signal) =>
    request(`/api/anime${query({ genre, type: kind, sort, cursor, limit: 24, fields: FIELDS })}`, { signal }),
  );

  function set(name, value) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    navigate(`/${next.toString() ? `?${next}` : ""}`, { replace: true });
  }

  const heading = [genre, kind ? kindLabel(kind) : "", "anime"].filter(Boolean).join(" ");
  return html`
    <${Heading}>Browse ${heading.toLowerCase() === "anime" ? "anime" : heading}<//>
    <form class="filters" aria-label="Filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Genre
        <select value=${genre} onChange=${(e) => set("genre", e.currentTarget.value)}>
          <option value="">All genres</option>
          ${GENRES.map((g) => html`<option value=${g}>${g}</option>`)}
        </select>
      </label>
      <label>Type
        <select value=${kind} onChange=${(e) => set("type", e.currentTarget.value)}>
          <option value="">All types</option>
          ${KINDS.map((k) => html`<option value=${k}>${kindLabel(k)}</option>`)}
        </select>
      </label>
      <label>Sort by
        <select value=${sort} onChange=${(e) => set("sort", e.currentTarget.value === "popularity" ? "" : e.currentTarget.value)}>
          ${Object.entries(SORTS).map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>
      </label>
    </form>
    <ul class="grid" aria-label="Anime" aria-busy=${pages.loading ? "true" : "false"}>
      ${pages.items.map((anime) => html`<${AnimeCard} key=${anime.id} anime=${anime} />`)}
      ${pages.loading && html`<${SkeletonCards} count=${pages.items.length ? 6 : 12} />`}
    </ul>
    ${!pages.loading && !pages.error && pages.items.length === 0 && html`<p class="empty">No anime matches these filters.</p>`}
    <${LoadMore} pages=${pages} />
  `;
}

// The viewer app: header (brand, search, account), notices, the routed page.
import { html } from "htm/preact";
import { useEffect } from "preact/hooks";
import { query } from "../shared/api.js";
import { useStore } from "../shared/store.js";
import { AnimePage } from "./anime-page.js";
import { BrowsePage } from "./browse.js";
import { LoginPage } from "./login-page.js";
import { Notices } from "./notices.js";
import { Heading, Link, navigate, useRoute } from "./router.js";
import { SearchBox } from "./search-box.js";
import { SearchPage } from "./search-page.js";
import { logout, session } from "./session.js";

function Account() {
  const current = useStore(session);
  const { path } = useRoute();
  if (!current) {
    return html`<${Link} href=${`/login${path === "/login" ? "" : query({ next: path })}`} class="button">Log in<//>`;
  }
  return html`
    <span class="account">
      <span class="account-name">${current.username}</span>
      ${current.premium ? html`<span class="badge badge-premium">Premium</span>` : html`<span class="badge">Free</span>`}
      <button type="button" onClick=${() => logout().then(() => navigate("/"))}>Log out</button>
    </span>
  `;
}

function Page({ path }) {
  if (path === "/") return html`<${BrowsePage} />`;
  if (path === "/search") return html`<${SearchPage} />`;
  if (path === "/login") return html`<${LoginPage} />`;
  const anime = /^\/anime\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (anime) return html`<${AnimePage} id=${anime[1]} />`;
  return html`<${Heading}>Not found<//><p><${Link} href="/">Back to browsing<//></p>`;
}

const TITLES = { "/": "Browse", "/search": "Search", "/login": "Log in" };

export function App() {
  const { path } = useRoute();
  useEffect(() => {
    document.title = `${TITLES[path] || "Anime"} · Kenshō`;
  }, [path]);

  return html`
    <a class="skip-link" href="#main">Skip to content</a>
    <header class="site-header">
      <${Link} href="/" class="brand" aria-label="Kenshō home"><span aria-hidden="true">◉</span> Kenshō<//>
      <${SearchBox} />
      <nav aria-label="Account" class="account-nav"><${Account} /></nav>
    </header>
    <${Notices} />
    <main id="main" tabindex="-1"><${Page} path=${path} /></main>
    <footer class="site-footer">
      <p>Kenshō · <a href="/api/docs">API documentation</a></p>
    </footer>
  `;
}

// History-API routing: real URLs (/anime/ID, /search?q=...) that Kenshō answers with this page.
import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import { store, useStore } from "../shared/store.js";

function current() {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

export const route = store(current());

// A new page takes the focus to its heading (screen readers announce it); a filter change
// (replace) keeps it where it is.
let focusPending = false;

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  focusPending = !replace;
  route.set(current());
  if (!replace) window.scrollTo(0, 0);
}

addEventListener("popstate", () => {
  focusPending = true;
  route.set(current());
});

/** The page's main heading; it takes the focus when a navigation led here. */
export function Heading({ children, ...rest }) {
  const ref = useRef(null);
  const where = useRoute();
  useEffect(() => {
    if (focusPending && ref.current) {
      focusPending = false;
      ref.current.focus({ preventScroll: true });
    }
  }, [where]);
  return html`<h1 tabindex="-1" ref=${ref} ...${rest}>${children}</h1>`;
}

export function useRoute() {
  return useStore(route);
}

function plainClick(event) {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

/** An <a> that navigates without reloading the page (modified clicks still open tabs). */
export function Link({ href, children, ...rest }) {
  function onClick(event) {
    if (!plainClick(event)) return;
    event.preventDefault();
    navigate(href);
  }
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

// Cursor paging with infinite scroll: the next page loads when the end of the list comes into
// view, and a "Load more" button does the same for keyboards and screen readers.
import { html } from "htm/preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, isAbort } from "../shared/api.js";
import { resilient } from "./notices.js";

/** `fetchPage(cursor, signal)` -> {items, next_cursor}; reset whenever `key` changes. */
export function useCursorPages(key, fetchPage) {
  const [state, setState] = useState({ items: [], next: null, loading: true, error: null, done: false });
  const controller = useRef(null);
  const loading = useRef(false);

  const load = useCallback(
    async (cursor, replace) => {
      if (loading.current && !replace) return;
      loading.current = true;
      const { signal } = controller.current;
      setState((s) => ({ ...s, loading: true, error: null }));
      try {
        const page = await resilient(() => fetchPage(cursor, signal), signal);
        setState((s) => ({
          items: replace ? page.items : [...s.items, ...page.items],
          next: page.next_cursor,
          loading: false,
          error: null,
          done: !page.next_cursor,
        }));
      } catch (err) {
        if (isAbort(err)) return;
        setState((s) => ({ ...s, loading: false, error: err }));
      } finally {
        if (!signal.aborted) loading.current = false;
      }
    },
    [key],
  );

  useEffect(() => {
    controller.current = new AbortController();
    loading.current = false;
    setState({ items: [], next: null, loading: true, error: null, done: false });
    load(null, true);
    return () => controller.current.abort();
  }, [key]);

  const more = useCallback(() => {
    if (!state.loading && state.next) load(state.next, false);
  }, [state.loading, state.next, load]);

  const retry = useCallback(() => {
    if (state.items.length === 0) load(null, true);
    else if (state.next) load(state.next, false);
  }, [state.items.length, state.next, load]);

  return { ...state, more, retry };
}

export function LoadMore({ pages, label = "Load more" }) {
  const sentinel = useRef(null);
  useEffect(() => {
    const node = sentinel.current;
    if (!node || !pages.next || pages.loading) return undefined;
    const observer = new IntersectionObserver(
      (entries) => entries.some((e) => e.isIntersecting) && pages.more(),
      { rootMargin: "600px 0px" },
    );
    observer.observe(node);
    return () => observer.disconnect();
  }, [pages.next, pages.loading, pages.more]);
  if (pages.error) {
    const message = pages.error instanceof ApiError ? pages.error.message : "Something went wrong.";
    return html`<p class="error" role="alert">${message} <button type="button" onClick=${pages.retry}>Try again</button></p>`;
  }
  if (!pages.next) return null;
  return html`<div class="load-more" ref=${sentinel}>
    <button type="button" onClick=${pages.more} disabled=${pages.loading}>${pages.loading ? "Loading…" : label}</button>
  </div>`;
}

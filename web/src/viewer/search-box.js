// The search field with suggestions as you type (ARIA 1.2 combobox with a listbox popup).
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { isAbort, query, request } from "../shared/api.js";
import { navigate, useRoute } from "./router.js";

const DEBOUNCE_MS = 150;
const LANGS = { romaji: "Romaji", en: "English", ja: "Japanese", "zh-Hans": "Chinese", "zh-Hant": "Chinese" };

export function SearchBox() {
  const { path, params } = useRoute();
  const [text, setText] = useState(path === "/search" ? params.get("q") || "" : "");
  const [items, setItems] = useState([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);

  useEffect(() => {
    if (path === "/search") setText(params.get("q") || "");
  }, [path, params.get("q")]);

  useEffect(() => {
    const q = text.trim();
    if (!q || !open) {
      setItems([]);
      return undefined;
    }
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const body = await request(`/api/search/suggest${query({ q, limit: 8 })}`, {
          signal: controller.signal,
        });
        setItems(body.items);
        setActive(-1);
      } catch (err) {
        if (!isAbort(err)) setItems([]); // suggestions are a nicety: fail quietly
      }
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [text, open]);

  function close() {
    setOpen(false);
    setActive(-1);
  }

  function choose(item) {
    close();
    navigate(`/anime/${encodeURIComponent(item.id)}`);
  }

  function onSubmit(event) {
    event.preventDefault();
    const q = text.trim();
    if (active >= 0 && items[active]) return choose(items[active]);
    if (!q) return undefined;
    close();
    navigate(`/search${query({ q })}`);
    return undefined;
  }

  function onKeyDown(event) {
    const shown = open && items.length > 0;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      if (shown) setActive((i) => (i + 1) % items.length);
    } else if (event.key === "ArrowUp" && shown) {
      event.preventDefault();
      setActive((i) => (i <= 0 ? items.length - 1 : i - 1));
    } else if (event.key === "Escape") {
      if (shown) event.preventDefault();
      close();
    }
  }

  const expanded = open && items.length > 0;
  return html`
    <form class="search" role="search" onSubmit=${onSubmit}>
      <label for="search-input" class="visually-hidden">Search anime</label>
      <input
        id="search-input"
        type="search"
        name="q"
        placeholder="Search anime in any language"
        autocomplete="off"
        spellcheck=${false}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded=${expanded ? "true" : "false"}
        aria-controls="search-suggestions"
        aria-activedescendant=${active >= 0 ? `suggestion-${active}` : undefined}
        value=${text}
        maxlength="200"
        onInput=${(e) => {
          setText(e.currentTarget.value);
          setOpen(true);
        }}
        onKeyDown=${onKeyDown}
        onFocus=${() => setOpen(true)}
        onBlur=${() => setTimeout(close, 150)}
      />
      <button type="submit" class="search-button">Search</button>
      <ul id="search-suggestions" role="listbox" aria-label="Suggestions" class="suggestions" hidden=${!expanded}>
        ${items.map(
          (item, i) => html`
            <li
              id=${`suggestion-${i}`}
              role="option"
              aria-selected=${i === active ? "true" : "false"}
              class=${i === active ? "active" : ""}
              onMouseDown=${(e) => {
                e.preventDefault();
                choose(item);
              }}
            >
              <span>${item.title}</span>
              <small>${LANGS[item.lang] || item.lang}${item.type ? ` · ${item.type.toUpperCase()}` : ""}</small>
            </li>
          `,
        )}
      </ul>
    </form>
  `;
}

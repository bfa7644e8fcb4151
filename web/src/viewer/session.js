// The viewer's Kenshō session: token, username and premium flag in localStorage.
import { ApiError, request } from "../shared/api.js";
import { store } from "../shared/store.js";

const KEY = "kensho.session";

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "null");
    if (saved && typeof saved.token === "string" && Date.parse(saved.expiresAt) > Date.now()) {
      return saved;
    }
  } catch {
    /* a damaged entry is no session */
  }
  return null;
}

export const session = store(load());

function save(value) {
  if (value) localStorage.setItem(KEY, JSON.stringify(value));
  else localStorage.removeItem(KEY);
  session.set(value);
}

addEventListener("storage", (event) => {
  if (event.key === KEY) session.set(load());
});

export async function login(username, password) {
  const body = await request("/api/auth/login", { method: "POST", body: { username, password } });
  save({
    token: body.token,
    username,
    premium: Boolean(body.account && body.account.premium),
    expiresAt: body.expires_at,
  });
}

export async function logout() {
  const current = session.get();
  save(null);
  if (current) {
    await request("/api/auth/logout", { method: "POST", token: current.token }).catch(() => {});
  }
}

/** The session ended on the server (401): forget it locally. */
export function sessionEnded() {
  save(null);
}

/** On start: a stored token the server no longer knows is dropped. */
export async function revalidate() {
  const current = session.get();
  if (!current) return;
  try {
    const me = await request("/api/auth/me", { token: current.token });
    save({ ...current, premium: Boolean(me.account && me.account.premium), expiresAt: me.expires_at });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) sessionEnded();
  }
}

// Log in with a Crunchyroll account; Kenshō exchanges it for a session token.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { ApiError, NetworkError } from "../shared/api.js";
import { Heading, navigate, useRoute } from "./router.js";
import { login } from "./session.js";

function safeNext(value) {
  return value && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

export function LoginPage() {
  const { params } = useRoute();
  const [error, setError] = useState(params.get("expired") ? "Your session has ended. Please log in again." : "");
  const [busy, setBusy] = useState(false);

  async function onSubmit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError("");
    try {
      await login(String(form.get("username")).trim(), String(form.get("password")));
      navigate(safeNext(params.get("next")), { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError("Wrong email or password.");
      else if (err instanceof ApiError && err.status === 429) {
        setError(`Too many attempts. Try again in ${err.retryAfter ?? 60} s.`);
      } else if (err instanceof ApiError && err.status === 503) {
        setError(`Crunchyroll is unavailable. Try again in ${err.retryAfter ?? 5} s.`);
      } else if (err instanceof NetworkError) setError("Kenshō cannot be reached. Check your connection.");
      else setError(err.message || "Login failed.");
    } finally {
      setBusy(false);
    }
  }

  return html`
    <section class="login">
      <${Heading}>Log in<//>
      <p>Use your Crunchyroll account.</p>
      <form onSubmit=${onSubmit} class="stack">
        <label for="login-email">Email</label>
        <input id="login-email" name="username" type="email" autocomplete="username" required maxlength="254" />
        <label for="login-password">Password</label>
        <input id="login-password" name="password" type="password" autocomplete="current-password" required maxlength="1024" />
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Logging in…" : "Log in"}</button>
        <p class="error" role="alert">${error}</p>
      </form>
    </section>
  `;
}

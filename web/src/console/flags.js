// Feature flags (from the live feed): the setting in force on this replica, its source and
// rollout, and a form that stores a new setting for the whole fleet (PUT /admin/flags/{key})
// or drops the fleet's override (DELETE), each after a confirmation.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { count, percent } from "../shared/format.js";

const SOURCES = { redis: "fleet override (Redis)", config: "configured (KENSHO_FLAGS)", default: "built-in default" };

function draftOf(flag) {
  const s = flag.setting;
  return {
    enabled: s.enabled,
    default_variant: s.default_variant,
    rollout: Object.fromEntries(flag.variants.map((v) => [v, String(s.rollout[v] ?? 0)])),
  };
}

function FlagCard({ flag, onSave, onReset }) {
  const [draft, setDraft] = useState(() => draftOf(flag));
  useEffect(() => setDraft(draftOf(flag)), [flag.key, flag.source, flag.updated_at, JSON.stringify(flag.setting)]);
  const others = flag.variants.filter((v) => v !== draft.default_variant);
  const total = others.reduce((sum, v) => sum + (Number(draft.rollout[v]) || 0), 0);
  const title = `flag-${flag.key}-title`;
  function submit(event) {
    event.preventDefault();
    const rollout = {};
    for (const v of others) {
      const value = Number(draft.rollout[v]);
      if (value > 0) rollout[v] = value;
    }
    onSave(flag.key, { enabled: draft.enabled, default_variant: draft.default_variant, rollout });
  }
  return html`
    <article class="flag" data-flag=${flag.key} aria-labelledby=${title}>
      <h3 id=${title}><code>${flag.key}</code></h3>
      <p class="muted">${flag.description}</p>
      <dl class="facts">
        <dt>Source</dt><dd data-field="source">${SOURCES[flag.source] || flag.source}${flag.updated_at ? ` · set ${new Date(flag.updated_at).toLocaleString("en-GB")}` : ""}</dd>
        <dt>State</dt><dd>${flag.setting.enabled ? "on" : "off (everyone gets the built-in variant)"}</dd>
        <dt>Serving</dt><dd data-field="shares">${Object.entries(flag.shares).map(([v, share]) => `${v} ${percent(share / 100, share % 1 ? 2 : 0)}`).join(" · ")}</dd>
        <dt>Evaluations here</dt><dd>${Object.keys(flag.evaluations).length ? Object.entries(flag.evaluations).map(([v, n]) => `${v} ${count(n)}`).join(" · ") : "none yet"}</dd>
      </dl>
      <form class="flag-form" onSubmit=${submit}>
        <label class="check"><input type="checkbox" checked=${draft.enabled}
          onChange=${(e) => setDraft({ ...draft, enabled: e.currentTarget.checked })} /> On</label>
        <div class="fields">
          <label>Default variant
            <select value=${draft.default_variant}
              onChange=${(e) => setDraft({ ...draft, default_variant: e.currentTarget.value })}>
              ${flag.variants.map((v) => html`<option value=${v}>${v}</option>`)}
            </select>
          </label>
          ${others.map((v) => html`
            <label>Roll out ${v} to (%)
              <input type="number" min="0" max="100" step="0.01" inputmode="decimal" value=${draft.rollout[v]}
                onInput=${(e) => setDraft({ ...draft, rollout: { ...draft.rollout, [v]: e.currentTarget.value } })} />
            </label>`)}
        </div>
        <p class=${total > 100 ? "error" : "muted"} role=${total > 100 ? "alert" : undefined}>
          ${total > 100 ? "The rollout adds up to more than 100 %." : `Clients are bucketed by a stable hash; raising a percentage keeps everyone already in.`}
        </p>
        <div class="actions">
          <button type="submit" class="primary" disabled=${total > 100}>Apply to the fleet</button>
          <button type="button" onClick=${() => onReset(flag.key)} disabled=${flag.source !== "redis"}>Reset to configured</button>
        </div>
      </form>
    </article>
  `;
}

export function FlagsPanel({ flags, onSave, onReset }) {
  if (!flags) return html`<p class="empty">No feature flags on this replica.</p>`;
  return html`
      <p class="muted" data-field="redis">${flags.redis === "down"
        ? "Redis is unreachable: this replica evaluates the configured settings, and changes are refused."
        : `Following the fleet's settings in Redis (re-read at least every ${flags.refresh_s} s).`}</p>
      <div class="flags">${flags.flags.map((flag) => html`<${FlagCard} key=${flag.key} flag=${flag} onSave=${onSave} onReset=${onReset} />`)}</div>
  `;
}

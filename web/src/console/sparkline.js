// A small SVG trend line with a text alternative.
import { html } from "htm/preact";

export function Sparkline({ values, label, max, width = 160, height = 36 }) {
  const points = values.filter((v) => Number.isFinite(v));
  const top = max ?? Math.max(...points, 0);
  const scale = top > 0 ? top : 1;
  const step = points.length > 1 ? width / (points.length - 1) : width;
  const line = points
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / scale) * (height - 4)).toFixed(1)}`)
    .join(" ");
  return html`
    <svg class="sparkline" viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height} role="img" aria-label=${label}>
      <title>${label}</title>
      <line x1="0" y1=${height - 1} x2=${width} y2=${height - 1} class="baseline" />
      ${points.length > 1 && html`<polyline points=${line} fill="none" stroke="currentColor" stroke-width="2" />`}
    </svg>
  `;
}

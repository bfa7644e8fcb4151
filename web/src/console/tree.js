// The supervision tree as a table: one row per supervisor and actor, children indented.
import { html } from "htm/preact";
import { count, duration, micros } from "../shared/format.js";

const COLUMNS = ["Name", "State", "Mailbox", "Processed", "Failed", "Restarts", "p50", "p99", "Uptime", "Last failure"];

function flatten(node, depth = 0, out = []) {
  out.push({ node, depth });
  for (const child of node.children || []) flatten(child, depth + 1, out);
  return out;
}

function State({ value }) {
  return html`<span class=${`state state-${value}`}>${(value || "").replace("_", " ")}</span>`;
}

function failure(last) {
  if (!last) return "";
  const when = new Date(last.at * 1000).toLocaleTimeString("en-GB");
  return `${last.type}: ${last.message} (${when})`;
}

export function SupervisionTree({ tree, onRestart }) {
  if (!tree) return html`<p class="empty">The actor system is not running.</p>`;
  const rows = flatten(tree);
  // Explicit roles: phones lay the rows out as cards (CSS), which would drop the implicit ones.
  return html`
    <div class="table-wrap" tabindex="0" role="region" aria-label="Supervision tree">
      <table class="tree" role="table">
        <thead role="rowgroup">
          <tr role="row">
            ${COLUMNS.map((c) => html`<th scope="col" role="columnheader">${c}</th>`)}
            <th scope="col" role="columnheader"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody role="rowgroup">
          ${rows.map(({ node, depth }) =>
            node.kind === "supervisor"
              ? html`<tr key=${`sup-${node.name}`} role="row" class="supervisor" data-actor=${node.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(depth, 4)}`}>${node.name}</th>
                  <td role="cell" data-label="State"><${State} value=${node.failed ? "failed" : "running"} /></td>
                  <td role="cell" data-label="Strategy" colspan="3">${node.strategy} supervisor</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${node.restarts_in_period} of ${node.intensity} in ${node.period} s</td>
                  <td role="cell" colspan="3" class="blank"></td>
                  <td role="cell" data-label="Failure" class=${node.failure_reason ? "failure" : "blank"}>${node.failure_reason || ""}</td>
                  <td role="cell" class="blank"></td>
                </tr>`
              : html`<tr key=${`actor-${node.name}`} role="row" data-actor=${node.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(depth, 4)}`}>${node.name}</th>
                  <td role="cell" data-label="State"><${State} value=${node.state} /></td>
                  <td role="cell" data-label="Mailbox" data-col="mailbox">${count(node.mailbox_depth)}${node.stashed ? ` (+${node.stashed} stashed)` : ""}</td>
                  <td role="cell" data-label="Processed" data-col="processed">${count(node.processed)}</td>
                  <td role="cell" data-label="Failed" data-col="failed">${count(node.failed)}</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${count(node.restarts)}</td>
                  <td role="cell" data-label="p50">${micros(node.processing_us && node.processing_us.p50)}</td>
                  <td role="cell" data-label="p99">${micros(node.processing_us && node.processing_us.p99)}</td>
                  <td role="cell" data-label="Uptime">${duration(node.uptime_s)}</td>
                  <td role="cell" data-label="Last failure" class=${node.last_failure ? "failure" : "blank"}>${failure(node.last_failure)}</td>
                  <td role="cell" class="restart-cell"><button type="button" onClick=${() => onRestart(node.name)} aria-label=${`Restart ${node.name}`}>Restart</button></td>
                </tr>`,
          )}
        </tbody>
      </table>
    </div>
  `;
}

export function findActor(tree, name) {
  return tree ? flatten(tree).map((r) => r.node).find((n) => n.name === name) : undefined;
}

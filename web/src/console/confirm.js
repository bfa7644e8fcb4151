// Every admin action asks first, in a modal <dialog> (focus stays inside until it closes).
import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import { store, useStore } from "../shared/store.js";

const pending = store(null);

/** Resolves true when the operator confirms `message`, false when they cancel. */
export function confirmAction(message, action) {
  return new Promise((resolve) => pending.set({ message, action, resolve }));
}

export function ConfirmDialog() {
  const ask = useStore(pending);
  const dialog = useRef(null);
  useEffect(() => {
    const node = dialog.current;
    if (ask && !node.open) node.showModal();
    if (!ask && node.open) node.close();
  }, [ask]);
  function answer(value) {
    if (ask) ask.resolve(value);
    pending.set(null);
  }
  return html`
    <dialog ref=${dialog} class="confirm" aria-labelledby="confirm-text" onCancel=${(e) => { e.preventDefault(); answer(false); }}>
      <p id="confirm-text">${ask ? ask.message : ""}</p>
      <div class="confirm-buttons">
        <button type="button" onClick=${() => answer(false)}>Cancel</button>
        <button type="button" class="primary" onClick=${() => answer(true)}>${ask ? ask.action : "Confirm"}</button>
      </div>
    </dialog>
  `;
}

// The live feed: GET /admin/events read with fetch() (EventSource cannot send the bearer
// token), parsed by eventsource-parser, reconnecting with backoff until stopped.
import { createParser } from "eventsource-parser";
import { isAbort, sleep } from "../shared/api.js";

export class TokenRefused extends Error {}

/**
 * Calls onState(state) for each `state` event and onStatus("live" | "reconnecting" |
 * "draining") as the connection changes; throws TokenRefused on 401/404. Runs until `signal`.
 */
export async function follow(token, { onState, onStatus, signal }) {
  let delay = 500;
  while (!signal.aborted) {
    try {
      const response = await fetch("/admin/events", {
        headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` },
        cache: "no-store",
        signal,
      });
      if (response.status === 401 || response.status === 404) throw new TokenRefused();
      if (!response.ok || !response.body) throw new Error(`the feed answered ${response.status}`);
      onStatus("live");
      delay = 500;
      const parser = createParser({
        onEvent(event) {
          if (event.event === "state") onState(JSON.parse(event.data));
          else if (event.event === "shutdown") onStatus("draining");
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch (err) {
      if (isAbort(err) || err instanceof TokenRefused) throw err;
    }
    if (signal.aborted) break;
    onStatus("reconnecting");
    await sleep(delay, signal).catch(() => {});
    delay = Math.min(delay * 2, 10_000);
  }
}

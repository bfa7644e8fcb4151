-- Search analytics: one row per /api/search query, written in batches off the request path.
-- `query` is the normalised text (the same fold the index uses), so "Attack on Titan" and
-- "attack  on titan!" count as one query. `paged` marks follow-up pages fetched with a cursor,
-- which the top-query view leaves out so scrolling does not inflate a query's count.

CREATE TABLE search_events (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL,
    query        text NOT NULL,
    kind         text,
    genre        text,
    result_count integer NOT NULL CHECK (result_count >= 0),
    latency_ms   real NOT NULL CHECK (latency_ms >= 0),
    paged        boolean NOT NULL DEFAULT false
);
-- the admin view reads a recent window and groups by query
CREATE INDEX search_events_at_idx ON search_events (at);

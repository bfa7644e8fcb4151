-- Search analytics as counts (issue 19): searches per normalised query per minute, written in
-- batches by an in-memory aggregator (kensho/search/analytics.py) instead of one row per search.
-- A batch adds its counts to the row of its (minute, query, kind, genre, paged, result_count),
-- so the admin view sums exact counts however often the replicas flush. kind and genre are ''
-- when absent (a primary key column cannot be NULL). The per-search rows of search_events are
-- carried over as counts. search_events itself stays for now: during a rolling upgrade, replicas
-- of the previous release still write to it (their rows are not counted by the new view); a
-- later migration drops it once no such replica can run.

CREATE TABLE search_query_minutes (
    minute       timestamptz NOT NULL CHECK (date_trunc('minute', minute) = minute),
    query        text NOT NULL,
    kind         text NOT NULL DEFAULT '',
    genre        text NOT NULL DEFAULT '',
    paged        boolean NOT NULL,
    result_count integer NOT NULL CHECK (result_count >= 0),
    searches     bigint NOT NULL CHECK (searches > 0),
    PRIMARY KEY (minute, query, kind, genre, paged, result_count)
);

INSERT INTO search_query_minutes (minute, query, kind, genre, paged, result_count, searches)
SELECT date_trunc('minute', at), query, COALESCE(kind, ''), COALESCE(genre, ''), paged,
       result_count, count(*)
FROM search_events
GROUP BY 1, 2, 3, 4, 5, 6;

-- Fleet (issue 12): leases for fleet-wide singletons and the history of catalog sync runs.
--
-- A lease row is held by one replica (`holder`) until `expires_at` (the database's clock, so
-- replicas' clocks never matter); the holder renews it while it works. Each acquisition bumps
-- `token` (the fencing token): a writer proves it still holds the lease by locking the row with
-- its token (`lease_fence`) inside its own transaction, so a replica that lost its lease (a
-- long pause, a partition) can never commit after another replica took over.
CREATE TABLE leases (
    name        text PRIMARY KEY,
    holder      text,
    token       bigint NOT NULL DEFAULT 0,
    acquired_at timestamptz,
    renewed_at  timestamptz,
    expires_at  timestamptz NOT NULL DEFAULT now()
);

-- Raises SQLSTATE KL001 unless `token` is the current token of lease `lease_name`; takes a
-- FOR SHARE lock on the row, so a takeover (an UPDATE) waits until the caller's transaction
-- ends: a page committed under the old token is complete before the new holder starts.
CREATE FUNCTION lease_fence(lease_name text, lease_token bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM leases WHERE name = lease_name AND token = lease_token FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lease % lost (token % is no longer current)', lease_name, lease_token
            USING ERRCODE = 'KL001';
    END IF;
END
$$;

-- One row per attempt (a lease held by one replica); a run interrupted by a crash and resumed
-- by another replica keeps its run_id across attempts. `seq` orders attempts; the seq of the
-- newest complete attempt is the catalog version replicas poll for.
CREATE TABLE catalog_sync_runs (
    seq          bigserial PRIMARY KEY,
    run_id       text NOT NULL,
    holder       text NOT NULL,
    lease_token  bigint NOT NULL,
    status       text NOT NULL
                 CHECK (status IN ('running', 'complete', 'failed', 'cancelled', 'lost')),
    resumed_from integer NOT NULL DEFAULT 0,
    pages        integer NOT NULL DEFAULT 0,
    series       integer NOT NULL DEFAULT 0,
    rows_written integer NOT NULL DEFAULT 0,
    removed      integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    error        text
);
CREATE INDEX catalog_sync_runs_complete_idx ON catalog_sync_runs (seq) WHERE status = 'complete';

-- Sessions and streams shared by every replica (issue 12).
--
-- kensho_sessions.version counts the rotations of a session's upstream tokens: a refresh is
-- saved only over the version it started from (compare-and-swap), so two replicas never
-- overwrite each other's fresh refresh token. refresh_lease_until is the fleet-wide
-- per-session refresh lock: the replica whose CAS sets it refreshes; the others wait for the
-- version to move and re-read the fresh token. It expires, so a crashed holder wedges nothing.
ALTER TABLE kensho_sessions
    ADD COLUMN version bigint NOT NULL DEFAULT 0,
    ADD COLUMN refresh_lease_until timestamptz;

CREATE INDEX kensho_sessions_username ON kensho_sessions (lower(username)) WHERE revoked_at IS NULL;

-- One row per upstream stream token a session holds (a "grant"): every replica can reuse it,
-- and whichever replica sees the logout, the end of its window or the shutdown releases it
-- (DELETE ... RETURNING: exactly one replica gets each row). `token` is the upstream token
-- that opened it, sealed like kensho_sessions.upstream; `doc` is what the stream endpoint
-- answers (manifest variants and subtitles), never a secret.
CREATE TABLE kensho_stream_grants (
    session_hash  char(64) NOT NULL CHECK (session_hash ~ '^[0-9a-f]{64}$'),
    episode_id    text NOT NULL CHECK (length(episode_id) <= 128),
    account_id    text CHECK (length(account_id) <= 128),
    stream_token  text NOT NULL CHECK (length(stream_token) <= 256),
    doc           jsonb NOT NULL,
    token         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    cache_until   timestamptz NOT NULL,
    PRIMARY KEY (session_hash, episode_id)
);

CREATE INDEX kensho_stream_grants_cache_until ON kensho_stream_grants (cache_until);
CREATE INDEX kensho_stream_grants_account ON kensho_stream_grants (account_id);

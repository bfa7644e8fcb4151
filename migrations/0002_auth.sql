-- Login sessions and the authentication audit trail (issue 4).
--
-- kensho_sessions keeps only the SHA-256 of Kenshō's session token (the token itself is shown
-- to the client once), so a leaked table yields no usable session. `upstream` holds the
-- Crunchyroll access and rotating refresh tokens: it is a secret, never logged or returned.

CREATE TABLE kensho_sessions (
    token_hash  char(64) PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    username    text NOT NULL CHECK (length(username) <= 320),
    account_id  text,
    premium     boolean NOT NULL DEFAULT false,
    upstream    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE INDEX kensho_sessions_expires_at ON kensho_sessions (expires_at);

-- One row per authentication event. Never a password or a token: only who, from where, when.
CREATE TABLE auth_audit (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    event           text NOT NULL CHECK (
                        event IN ('success', 'failure', 'rate_limited', 'logout', 'refresh_failure')
                    ),
    username        text CHECK (length(username) <= 320),
    client_address  text CHECK (length(client_address) <= 64),
    user_agent      text CHECK (length(user_agent) <= 512),
    request_id      text CHECK (length(request_id) <= 128),
    detail          text CHECK (length(detail) <= 256)
);

CREATE INDEX auth_audit_at ON auth_audit (at);
CREATE INDEX auth_audit_username_at ON auth_audit (username, at);

-- Catalog schema: series, seasons, episodes and what search/browse need beside them.
-- Rows are never deleted by the sync: an item gone upstream gets removed_at, so ids stay valid.
-- content_hash is a digest of the upstream + bundle fields; the sync writes a row only when it
-- changes, so a second sync is a no-op.

CREATE TABLE series (
    id               text PRIMARY KEY,            -- Crunchyroll-style opaque id
    bundle_key       text UNIQUE,                 -- catalog bundle key, e.g. mal:5114
    title            text NOT NULL,
    slug             text NOT NULL DEFAULT '',
    kind             text NOT NULL DEFAULT 'tv',  -- tv|movie|ova|ona|special|music|web
    genres           text[] NOT NULL DEFAULT '{}',
    episode_count    integer CHECK (episode_count >= 0),
    season_count     integer CHECK (season_count >= 0),
    rating           real,
    members          integer NOT NULL DEFAULT 0,  -- popularity
    begin_date       date,
    end_date         date,
    description      text NOT NULL DEFAULT '',
    images           jsonb NOT NULL DEFAULT '{}',
    is_premium_only  boolean NOT NULL DEFAULT false,
    is_mature        boolean NOT NULL DEFAULT false,
    official_site    text,
    content_hash     text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    removed_at       timestamptz
);
-- browse: by popularity, by type + popularity, by genre (GIN on the array)
CREATE INDEX series_popularity_idx ON series (members DESC, id) WHERE removed_at IS NULL;
CREATE INDEX series_kind_popularity_idx ON series (kind, members DESC, id) WHERE removed_at IS NULL;
CREATE INDEX series_genres_idx ON series USING gin (genres);
CREATE INDEX series_slug_idx ON series (slug);

CREATE TABLE seasons (
    id                 text PRIMARY KEY,
    series_id          text NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    season_number      integer NOT NULL,
    sequence_number    integer NOT NULL DEFAULT 0,
    title              text NOT NULL DEFAULT '',
    slug               text NOT NULL DEFAULT '',
    number_of_episodes integer NOT NULL DEFAULT 0,
    is_complete        boolean NOT NULL DEFAULT false,
    audio_locales      text[] NOT NULL DEFAULT '{}',
    subtitle_locales   text[] NOT NULL DEFAULT '{}',
    content_hash       text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    removed_at         timestamptz
);
CREATE INDEX seasons_series_number_idx ON seasons (series_id, season_number);

CREATE TABLE episodes (
    id               text PRIMARY KEY,
    season_id        text NOT NULL REFERENCES seasons (id) ON DELETE CASCADE,
    series_id        text NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    episode_number   integer,                     -- null for specials
    sequence_number  double precision NOT NULL DEFAULT 0,
    episode_label    text NOT NULL DEFAULT '',    -- Crunchyroll's "episode" string
    title            text NOT NULL DEFAULT '',
    slug             text NOT NULL DEFAULT '',
    description      text NOT NULL DEFAULT '',
    duration_ms      integer CHECK (duration_ms >= 0),
    air_date         timestamptz,
    is_premium_only  boolean NOT NULL DEFAULT false,
    is_mature        boolean NOT NULL DEFAULT false,
    images           jsonb NOT NULL DEFAULT '{}',
    content_hash     text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    removed_at       timestamptz
);
CREATE INDEX episodes_season_sequence_idx ON episodes (season_id, sequence_number);
CREATE INDEX episodes_series_idx ON episodes (series_id);

-- Every title in every language (romaji|en|ja|zh-Hans|zh-Hant|…), loaded by the search index.
CREATE TABLE series_titles (
    series_id text NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    lang      text NOT NULL,
    text      text NOT NULL,
    PRIMARY KEY (series_id, lang, text)
);

CREATE TABLE genres (
    slug text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE series_genres (
    series_id text NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    genre     text NOT NULL REFERENCES genres (slug),
    PRIMARY KEY (series_id, genre)
);
CREATE INDEX series_genres_genre_idx ON series_genres (genre, series_id);

-- mal, anilist, anidb, bangumi, tmdb, crunchyroll, …
CREATE TABLE series_external_ids (
    series_id text NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    source    text NOT NULL,
    value     text NOT NULL,
    PRIMARY KEY (series_id, source)
);
CREATE INDEX series_external_ids_lookup_idx ON series_external_ids (source, value);

-- One row per image size; owner is a series or an episode id.
CREATE TABLE images (
    owner_id text NOT NULL,
    kind     text NOT NULL,                       -- poster_tall|poster_wide|thumbnail|…
    width    integer NOT NULL,
    height   integer NOT NULL,
    url      text NOT NULL,
    PRIMARY KEY (owner_id, kind, width, height)
);

-- Resumable catalog sync: one row per job; cursor is the last completed checkpoint.
CREATE TABLE catalog_sync_state (
    job          text PRIMARY KEY,
    run_id       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
    phase        text NOT NULL,
    cursor       jsonb NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    stats        jsonb NOT NULL DEFAULT '{}',
    last_error   text
);

-- Series ids seen by an in-progress run; a complete listing marks every other series removed.
CREATE TABLE catalog_sync_seen (
    run_id    text NOT NULL,
    series_id text NOT NULL,
    position  integer NOT NULL,
    PRIMARY KEY (run_id, series_id)
);

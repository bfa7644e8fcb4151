-- Catalog API (issue 5): keyset indexes for browsing by rating and by title.
-- Each matches its ORDER BY in kensho/store/catalog_queries.py exactly (expression and
-- direction), with the id as the tie-breaker, so a page is an index range scan.
CREATE INDEX IF NOT EXISTS series_rating_keyset_idx
    ON series ((COALESCE(rating, -1)::float8) DESC, id) WHERE removed_at IS NULL;
CREATE INDEX IF NOT EXISTS series_title_keyset_idx
    ON series (title, id) WHERE removed_at IS NULL;

-- Player heartbeats on stream grants (issue 12): the last time a player reported playing a
-- grant's episode. A grant whose player went silent for KENSHO_STREAM_HEARTBEAT_TIMEOUT is
-- released by any replica's sweep (grants that never had a heartbeat keep their window).
ALTER TABLE kensho_stream_grants ADD COLUMN heartbeat_at timestamptz;

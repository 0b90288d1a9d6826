-- Tables of shoal's reference accounting consumer (shoal-consumer). It runs this file at start; every
-- statement is idempotent, so it can also be run by hand: psql -d shoal -f sql/schema.sql
-- Amounts are bytes; ids are the site's own user and torrent ids.

-- What each user has been credited with, over all torrents.
CREATE TABLE IF NOT EXISTS users (
  id bigint PRIMARY KEY,
  uploaded bigint NOT NULL DEFAULT 0,
  downloaded bigint NOT NULL DEFAULT 0
);

-- Completed downloads per torrent.
CREATE TABLE IF NOT EXISTS torrents (
  id bigint PRIMARY KEY,
  snatches bigint NOT NULL DEFAULT 0
);

-- Per user and torrent: credited and raw (as reported) totals, whether the user completed it, and
-- the latest announce seen (entries can be applied out of order, so "latest" goes by announce time).
CREATE TABLE IF NOT EXISTS user_torrents (
  user_id bigint NOT NULL,
  torrent_id bigint NOT NULL,
  uploaded bigint NOT NULL DEFAULT 0,
  downloaded bigint NOT NULL DEFAULT 0,
  raw_uploaded bigint NOT NULL DEFAULT 0,
  raw_downloaded bigint NOT NULL DEFAULT 0,
  snatched boolean NOT NULL DEFAULT false,
  announces bigint NOT NULL DEFAULT 0,
  last_event text NOT NULL DEFAULT 'none',
  last_left bigint NOT NULL DEFAULT 0,
  last_peer_id bytea,
  last_announce timestamptz,
  PRIMARY KEY (user_id, torrent_id)
);

-- Accounting record ids already applied: a record delivered again (a retried XADD, a consumer that
-- died between commit and XACK) is recognised here and skipped. Rows older than 7 days are pruned.
CREATE TABLE IF NOT EXISTS applied_ids (
  id text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS applied_ids_applied_at ON applied_ids (applied_at);

-- Stream entries that could not be read as accounting records: kept for a person to look at,
-- acknowledged so that they never block the stream.
CREATE TABLE IF NOT EXISTS dead_letters (
  stream_id text PRIMARY KEY,
  fields jsonb,
  error text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

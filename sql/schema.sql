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

-- Freeleech tokens that ended (a record's token_end): per user and torrent, the latest end and which record
-- said so. A site reads it to mark its own token used up ("completed") or "expired"; the tracker has
-- deleted the token by then.
CREATE TABLE IF NOT EXISTS token_ends (
  user_id bigint NOT NULL,
  torrent_id bigint NOT NULL,
  reason text NOT NULL,
  ended_at timestamptz NOT NULL,
  record_id text NOT NULL,
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

-- Seed time per user and torrent, in milliseconds: the time between consecutive announces of a
-- seeding peer, each gap capped at the interval the peer was told plus consumer.seed_grace, so that a
-- peer that vanished accrues nothing past its announce that never came. Added by a later version.
ALTER TABLE user_torrents ADD COLUMN IF NOT EXISTS seed_time_ms bigint NOT NULL DEFAULT 0;

-- The peers of each user that announced within peer_ttl: one row per user, torrent and peer_id (a
-- hybrid torrent's two swarms and a dual-stack peer's two families are one row), with what its
-- latest announce said. A row goes on `stopped` and once older than peer_ttl.
CREATE TABLE IF NOT EXISTS active_peers (
  user_id bigint NOT NULL,
  torrent_id bigint NOT NULL,
  peer_id bytea NOT NULL,
  ipv4 inet,
  ipv6 inet,
  port integer NOT NULL,
  -- The client as its peer_id says: "-qB4630-" (Azureus style), "M7-4-0--" (Shadow style), printable bytes only.
  client text NOT NULL,
  -- Totals as the client reported them (this session's), and bytes left.
  uploaded bigint NOT NULL,
  downloaded bigint NOT NULL,
  "left" bigint NOT NULL,
  seeder boolean NOT NULL,
  -- Seconds until the next announce the peer was told.
  announce_interval integer NOT NULL,
  first_announce timestamptz NOT NULL,
  last_announce timestamptz NOT NULL,
  PRIMARY KEY (user_id, torrent_id, peer_id)
);
-- Every record rewrites its peer's row: with no index on a column that changes (last_announce was one,
-- up to this version) and room left in each page, the rewrite is a HOT update, which touches no index.
-- The prune of old rows scans the table instead (its cost: docs/performance.md, "Consumer throughput").
DROP INDEX IF EXISTS active_peers_last_announce;
ALTER TABLE active_peers SET (fillfactor = 70);

-- Credits from cumulative counters (src/consumer/sessions.ts): per accounting session epoch (one run of
-- a peer's counters, named by the tracker) that is not its session's live one (whose marks are on its
-- active_peers row), the high-water mark of the reported totals credited so far. A record credits what
-- its totals pass the mark by, so a record lost before the stream is covered by the session's next one,
-- and a record applied twice or late credits nothing more. `continues`: the epoch whose marks this one
-- shares (a run that went on under a new epoch after the tracker lost the peer's totals). `stopped_seq`:
-- records of the epoch below it make no active_peers row; 2^31-1 once the epoch stopped (a stop is an
-- epoch's last announce), so no late record of it makes one. Rows untouched
-- for consumer.session_retention are pruned. No index but the key: every write stays a HOT update.
CREATE TABLE IF NOT EXISTS peer_sessions (
  user_id bigint NOT NULL,
  torrent_id bigint NOT NULL,
  peer_id bytea NOT NULL,
  epoch text NOT NULL,
  continues text,
  up_mark bigint NOT NULL,
  down_mark bigint NOT NULL,
  last_seq integer NOT NULL,
  last_time bigint NOT NULL,
  stopped_seq integer,
  snatch_counted boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, torrent_id, peer_id, epoch)
) WITH (fillfactor = 70);

-- Which epoch and announce of it each active peer's row shows (records of one epoch are ordered by seq),
-- and that live epoch's high-water marks (src/consumer/sessions.ts: one row per session and batch).
ALTER TABLE active_peers ADD COLUMN IF NOT EXISTS epoch text;
ALTER TABLE active_peers ADD COLUMN IF NOT EXISTS seq integer;
ALTER TABLE active_peers ADD COLUMN IF NOT EXISTS up_mark bigint;
ALTER TABLE active_peers ADD COLUMN IF NOT EXISTS down_mark bigint;
-- The session's snatch is counted (once per life of the peer, from whichever record says it completed).
ALTER TABLE active_peers ADD COLUMN IF NOT EXISTS snatch_counted boolean NOT NULL DEFAULT false;
-- Whether the peer's announced port accepted the tracker's connection (private.connectable_check): the
-- latest known result for the row's port; NULL while unknown or when checks are off.
ALTER TABLE active_peers ADD COLUMN IF NOT EXISTS connectable boolean;

-- Per consumer run: raw bytes the marks credited beyond the records' own deltas (what a lost record
-- would have cost: a replica killed before its buffer reached the stream, Redis losing recent writes),
-- and bytes the records claimed that the marks found credited already (duplicates, late records).
CREATE TABLE IF NOT EXISTS credit_recovery (
  run text PRIMARY KEY,
  started_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  recovered_records bigint NOT NULL DEFAULT 0,
  recovered_uploaded bigint NOT NULL DEFAULT 0,
  recovered_downloaded bigint NOT NULL DEFAULT 0,
  suppressed_records bigint NOT NULL DEFAULT 0,
  suppressed_uploaded bigint NOT NULL DEFAULT 0,
  suppressed_downloaded bigint NOT NULL DEFAULT 0
);

-- Each consumer of a group counts its batches on a counter in Redis (`<stream>:generation`, INCR) and
-- keeps here the highest value seen: a value at or below it means Redis went back to an older copy of
-- its data (a restart from an old snapshot or without persistence, a failover to a replica that had not
-- caught up), and with it lost the unread part of the stream.
CREATE TABLE IF NOT EXISTS stream_position (
  stream text NOT NULL,
  grp text NOT NULL,
  generation bigint NOT NULL,
  PRIMARY KEY (stream, grp)
);

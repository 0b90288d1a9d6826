/**
 * The management API's shapes as zod schemas: request bodies (validated with them), answers (the
 * routes build them to these types), errors and path parameters. The OpenAPI document (openapi.ts)
 * is generated from the same schemas, so it cannot drift from what the API accepts and answers.
 */
import { z } from 'zod';
import { MAX_CLIENT_PREFIX, MAX_DELETION_REASON, MAX_TOKENS_PER_USER } from '../store/catalogue.js';

export const MAX_USER_ID = 2 ** 32 - 1;
export const MAX_TORRENT_ID = Number.MAX_SAFE_INTEGER;
export const MAX_MULTIPLIER = 100;
export const MAX_CLIENT_NAME = 100;
/** Unix seconds: the largest an unsigned 32-bit time can say (the year 2106). */
export const MAX_UNIX_TIME = 2 ** 32 - 1;
/** Gazelle hands out 32 alphanumerics; the tracker refuses anything longer than 128 unread. */
export const PASSKEY = /^[A-Za-z0-9_-]{1,128}$/;
export const HEX_INFO_HASH = /^[0-9a-fA-F]{40}$/;
/** Path ids are decimal digits only, so that "1e3", "0x10" or "7.0" are refused rather than read. */
export const PATH_ID = /^[0-9]{1,16}$/;

/** A field's message, or "required" when it is missing. */
const orRequired = (message: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : message) });

const BOOLEAN = 'must be true or false';
const MULTIPLIER = `must be a number from 0 to ${MAX_MULTIPLIER}`;
const PASSKEY_MESSAGE = 'must be 1 to 128 characters of A-Z, a-z, 0-9, _ and -';
const TORRENT_ID = `must be an integer from 1 to ${MAX_TORRENT_ID}`;
const CLIENT_NAME = `must be a non-empty string of at most ${MAX_CLIENT_NAME} characters`;
/** Below the user ledger's bound of members per user (MAX_MEMBERS_PER_USER). */
export const MAX_DOWNLOAD_SLOTS = 1000;
const DOWNLOAD_SLOTS = `must be an integer from 0 to ${MAX_DOWNLOAD_SLOTS}`;
const UNIX_TIME = `must be an integer from 0 to ${MAX_UNIX_TIME} (Unix seconds)`;
const INFO_HASH_V2 = 'must be 40 hexadecimal characters: the SHA-256 info hash truncated to 20 bytes';
/** A field that repeats the URL (a GET answer sent back as is) must agree with it (checked by the route). */
const ECHO = { error: 'does not match the URL' };

const multiplier = (meaning: string) =>
  z.number(orRequired(MULTIPLIER)).min(0, { error: MULTIPLIER }).max(MAX_MULTIPLIER, { error: MULTIPLIER }).default(1).describe(meaning);
const unixTime = () =>
  z.number(orRequired(UNIX_TIME)).int({ error: UNIX_TIME }).min(0, { error: UNIX_TIME }).max(MAX_UNIX_TIME, { error: UNIX_TIME }).default(0);
const passkey = () => z.string(orRequired(PASSKEY_MESSAGE)).regex(PASSKEY, { error: PASSKEY_MESSAGE });
const torrentId = () => z.number(orRequired(TORRENT_ID)).int({ error: TORRENT_ID }).min(1, { error: TORRENT_ID }).max(MAX_TORRENT_ID, { error: TORRENT_ID });
/** Info hashes are answered in lower case. */
const infoHash = () =>
  z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .describe('40 hexadecimal characters, lower case');

// Request bodies. PUT replaces the whole resource: fields left out take their defaults.

export const UserBody = z
  .strictObject({
    id: z.number(ECHO).optional().describe("the URL's id; may be sent back as GET answered it"),
    passkey: passkey(),
    up_multiplier: multiplier('factor applied to the upload the user reports'),
    down_multiplier: multiplier('factor applied to the download the user reports'),
    enabled: z.boolean(orRequired(BOOLEAN)).default(true).describe('a disabled user cannot announce'),
    can_leech: z
      .boolean(orRequired(BOOLEAN))
      .default(true)
      .describe('false: the user may seed but not download; an announce with bytes left is refused with "downloading disabled"'),
    freeleech_until: unixTime().describe('personal freeleech: no download is counted until this Unix time (seconds); 0: none'),
    download_slots: z
      .number(orRequired(DOWNLOAD_SLOTS))
      .int({ error: DOWNLOAD_SLOTS })
      .min(0, { error: DOWNLOAD_SLOTS })
      .max(MAX_DOWNLOAD_SLOTS, { error: DOWNLOAD_SLOTS })
      .default(0)
      .describe(
        'most torrents the user may download at once: a new download (a started announce with bytes left) beyond is refused; downloads under way go on; 0: no limit',
      ),
  })
  .meta({ id: 'UserBody', description: 'A user as PUT takes it; fields left out take their defaults.' });

export const TorrentBody = z
  .strictObject({
    info_hash: z.string(ECHO).optional().describe("the URL's info hash (any case); may be sent back as GET answered it"),
    info_hash_v2: z
      .string({ error: INFO_HASH_V2 })
      .regex(HEX_INFO_HASH, { error: INFO_HASH_V2 })
      .optional()
      .describe(
        'a hybrid (BEP 52) torrent: its v2 info hash (the SHA-256 info hash truncated to 20 bytes, any case). Announces and scrapes on it are served under this torrent: same id, terms and accounting (one set of totals per user and peer, one snatch), in a swarm of its own. Left out: none.',
      ),
    id: torrentId().describe("the site's torrent id, carried into accounting records"),
    up_multiplier: multiplier('factor applied to the upload on this torrent'),
    down_multiplier: multiplier('factor applied to the download on this torrent'),
    freeleech: z.boolean(orRequired(BOOLEAN)).default(false).describe('downloads on this torrent are not counted'),
  })
  .meta({ id: 'TorrentBody', description: 'A registered torrent as PUT takes it; fields left out take their defaults.' });

const DELETION_REASON = `must be 1 to ${MAX_DELETION_REASON} characters, without control characters`;

export const DeleteTorrentBody = z
  .strictObject({
    reason: z
      .string(orRequired(DELETION_REASON))
      .min(1, { error: DELETION_REASON })
      .max(MAX_DELETION_REASON, { error: DELETION_REASON })
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, { error: DELETION_REASON })
      .describe(
        'what announces for this torrent are told, as "torrent deleted: <reason>", for private.deleted_reason_ttl (then "unregistered torrent"); a new registration forgets it',
      ),
  })
  .meta({ id: 'DeleteTorrentBody', description: 'Optional body of a torrent deletion.' });

export const ClientBody = z
  .strictObject({
    prefix: z.string(ECHO).optional().describe("the URL's prefix, percent-encoded or not; may be sent back as GET answered it"),
    name: z
      .string(orRequired(CLIENT_NAME))
      .max(MAX_CLIENT_NAME, { error: CLIENT_NAME })
      .refine((name) => name.trim() !== '', { error: CLIENT_NAME })
      .describe('what the client is, for people; a denied one is named in its refusal'),
    action: z
      .enum(['allow', 'deny'], { error: 'must be "allow" or "deny"' })
      .default('allow')
      .describe(
        '"allow": an approved client (what approved_clients_only admits); "deny": its peer_ids are refused in every mode. A peer_id matched by several prefixes follows the longest.',
      ),
  })
  .meta({ id: 'ClientBody', description: 'A client prefix as PUT takes it.' });

export const TokenBody = z
  .strictObject({
    until: unixTime().describe('Unix time (seconds) the token ends at, if the user has not completed the torrent by then; 0: only completing ends it'),
  })
  .meta({ id: 'TokenBody', description: "A freeleech token as PUT takes it: the user's download on the torrent is not counted while it holds." });

export const FreeleechBody = z
  .strictObject({ enabled: z.boolean(orRequired(BOOLEAN)).describe('every torrent is freeleech') })
  .meta({ id: 'FreeleechBody', description: 'The global freeleech switch.' });

// Answers.

export const UserAnswer = z
  .strictObject({
    id: z.int().min(1).max(MAX_USER_ID),
    passkey: z.string().regex(PASSKEY),
    up_multiplier: z.number().min(0).max(MAX_MULTIPLIER),
    down_multiplier: z.number().min(0).max(MAX_MULTIPLIER),
    enabled: z.boolean(),
    can_leech: z.boolean(),
    freeleech_until: z.int().min(0).max(MAX_UNIX_TIME),
    download_slots: z.int().min(0).max(MAX_DOWNLOAD_SLOTS),
  })
  .meta({ id: 'User' });

export const TorrentAnswer = z
  .strictObject({
    info_hash: infoHash(),
    info_hash_v2: infoHash().optional().describe("a hybrid torrent's v2 info hash"),
    id: z.int().min(1).max(MAX_TORRENT_ID),
    up_multiplier: z.number().min(0).max(MAX_MULTIPLIER),
    down_multiplier: z.number().min(0).max(MAX_MULTIPLIER),
    freeleech: z.boolean(),
  })
  .meta({ id: 'Torrent' });

const count = () => z.int().min(0);
export const SwarmAnswer = z
  .strictObject({
    complete: count().describe('live seeders'),
    incomplete: count().describe('live leechers'),
    downloaded: count().describe('snatches counted'),
  })
  .meta({ id: 'Swarm', description: 'Live counts of a swarm, registered or not.' });

export const AddressesAnswer = z
  .strictObject({
    count: count().describe('distinct addresses within private.address_window'),
    addresses: z
      .array(
        z.strictObject({
          address: z.string().describe('IPv4 or IPv6 address, as announced from'),
          last_seen: z.string().describe('when, ISO 8601'),
        }),
      )
      .describe('most recent first'),
  })
  .meta({
    id: 'Addresses',
    description:
      'Private mode: the distinct addresses a user announced from within private.address_window, as every replica wrote them (about a second late); account sharing shows here.',
  });
export const PeersAnswer = z
  .strictObject({
    count: count().describe("the user's (address, port) pairs that announced within peer_ttl"),
    peers: z
      .array(
        z.strictObject({
          address: z.string().describe('IPv4 or IPv6 address, as announced from'),
          port: z.int().min(1).max(65535).describe('the announced port'),
          last_seen: z.string().describe('when, ISO 8601'),
          connectable: z.boolean().nullable().describe('whether the port accepted the connection (and handshake) at its last check; null: unknown'),
        }),
      )
      .describe('most recent first'),
  })
  .meta({
    id: 'Peers',
    description:
      'Private mode with private.connectable_check: the (address, port) pairs a user announced from within peer_ttl (as every replica wrote them, about a second late), with what the connectability check found.',
  });

/** Most hot swarms one answer lists. */
export const MAX_HOT_SWARMS = 100;

export const HotSwarmsAnswer = z
  .strictObject({
    window_seconds: z.number().positive().describe('the length of each summary window (metrics.hot_swarms_window)'),
    replicas: count().describe('replica summaries added up: every replica that published one within its last windows (a shared tracker driver), or 1'),
    partial: z.boolean().describe("true when the replicas' shared summaries could not be read and only the answering replica's is shown"),
    swarms: z
      .array(
        z.strictObject({
          info_hash: infoHash(),
          announces: count().describe("announces in the last window, added up over the replicas' summaries"),
          announces_per_second: z.number().min(0),
          error: count().describe('the count may be too high by at most this much (space-saving summaries overestimate)'),
        }),
      )
      .max(MAX_HOT_SWARMS)
      .describe('hottest first'),
  })
  .meta({ id: 'HotSwarms', description: "The swarms with the most announces in the replicas' last summary windows, from bounded heavy-hitter summaries." });

export const HotSwarmsLimitParam = z
  .string()
  .regex(/^[0-9]{1,3}$/)
  .describe(`how many swarms to list, 1 to ${MAX_HOT_SWARMS} (default 10)`);

export const ClientAnswer = z
  .strictObject({
    prefix: z.string().min(1).describe('as it goes in the URL: percent-encoded where needed'),
    name: z.string(),
    action: z.enum(['allow', 'deny']),
  })
  .meta({ id: 'Client' });

export const ClientsAnswer = z
  .strictObject({ clients: z.array(ClientAnswer) })
  .meta({ id: 'Clients', description: 'Client prefixes, approved and denied, sorted.' });

export const TokenAnswer = z
  .strictObject({
    info_hash: infoHash().describe("the torrent's info hash (a hybrid's v1 hash, whichever hash the token was put under)"),
    torrent_id: z.int().min(1).max(MAX_TORRENT_ID),
    until: z.int().min(0).max(MAX_UNIX_TIME),
  })
  .meta({ id: 'Token' });

export const TokensAnswer = z
  .strictObject({ tokens: z.array(TokenAnswer).describe(`by torrent id; at most ${MAX_TOKENS_PER_USER}`) })
  .meta({ id: 'Tokens', description: "A user's freeleech tokens. Used-up and expired ones are deleted when an announce finds them so." });

export const HashListAnswer = z.strictObject({ info_hashes: z.array(infoHash()) }).meta({ id: 'HashList' });

export const ListEntryAnswer = z.strictObject({ list: z.enum(['allow', 'deny']), info_hash: infoHash() }).meta({ id: 'ListEntry' });

export const FreeleechAnswer = z.strictObject({ enabled: z.boolean() }).meta({ id: 'Freeleech' });

const configKeys = () => z.array(z.string()).describe('dotted key paths, e.g. "budget.per_address"');

export const ReloadAnswer = z
  .strictObject({
    outcome: z
      .enum(['applied', 'unchanged', 'restart_needed', 'invalid'])
      .describe('restart_needed: some changed keys keep their old value until a restart (the others are applied); invalid: nothing changed'),
    changed: configKeys().describe('keys now in force with their new value'),
    restart: configKeys().describe('keys whose new value needs a restart; their old value stays in force'),
    unchanged: count().describe('how many keys have the same value as before'),
    errors: z
      .array(z.strictObject({ key: z.string(), reason: z.string() }))
      .optional()
      .describe('invalid: what is wrong, each under the key (or environment variable) it is about'),
    published: z
      .union([z.literal(false), z.strictObject({ subscribers: count().describe('replicas (this one among them) that received the request') })])
      .optional()
      .describe('?all=true: false when the tracker driver is not shared (only this process reloaded)'),
  })
  .meta({
    id: 'Reload',
    description: 'What a configuration reload did in this process. Other replicas (?all=true) each reload their own file and log what they did.',
  });

/** Every error, 4xx and 503 alike: a message for people, never a stack trace. */
export const ErrorAnswer = z
  .strictObject({ error: z.string().min(1).describe('what went wrong; a bad field is named first ("passkey: required")') })
  .meta({ id: 'Error' });

// Path parameters, as the routes check them (validate.ts).

export const UserIdParam = z.string().regex(PATH_ID).describe(`user id, 1 to ${MAX_USER_ID}, decimal digits only`);
export const InfoHashParam = z.string().regex(HEX_INFO_HASH).describe('info hash, 40 hexadecimal characters (any case)');
export const ClientPrefixParam = z
  .string()
  .min(1)
  .describe(`the leading 1 to ${MAX_CLIENT_PREFIX} bytes of a peer_id, percent-encoded where needed (e.g. exbc%00%38)`);
export const ListParam = z.enum(['allow', 'deny']).describe('which list');

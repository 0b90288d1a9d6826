/**
 * The management API's OpenAPI 3.1 document, generated from the zod schemas of schemas.ts:
 * z.toJSONSchema() emits JSON Schema 2020-12, which is OpenAPI 3.1's own dialect, so the schemas go in
 * as they are. Served at GET /openapi.json and committed as docs/openapi.json (`npm run openapi`
 * rewrites it; a test keeps the two equal and checks real answers against the document).
 */
import { z } from 'zod';
import { packageVersion } from '../cli-args.js';
import { MAX_BODY_BYTES, MAX_BULK_BODY_BYTES } from './body.js';
import {
  BulkAnswer,
  BulkTorrent,
  BulkTorrentsBody,
  BulkUser,
  BulkUsersBody,
  DEFAULT_PAGE,
  FinishSyncBody,
  MAX_PAGE,
  SyncAnswer,
  SyncIdParam,
  SyncKindParam,
  SyncResultAnswer,
  TorrentsPageAnswer,
  UsersPageAnswer,
} from './bulk-schemas.js';
import {
  ClientBody,
  ClientAnswer,
  ClientPrefixParam,
  ClientsAnswer,
  DeleteTorrentBody,
  ErrorAnswer,
  FreeleechAnswer,
  FreeleechBody,
  HashListAnswer,
  HotSwarmsAnswer,
  HotSwarmsLimitParam,
  InfoHashParam,
  ListEntryAnswer,
  ListParam,
  SwarmAnswer,
  AddressesAnswer,
  PeersAnswer,
  ReloadAnswer,
  TorrentAnswer,
  TorrentBody,
  TokenAnswer,
  TokenBody,
  TokensAnswer,
  UserAnswer,
  UserBody,
  UserIdParam,
} from './schemas.js';

type Json = Record<string, unknown>;

/** The schemas that become components, by their meta id. */
const COMPONENTS: z.ZodType[] = [
  UserBody,
  TorrentBody,
  DeleteTorrentBody,
  ClientBody,
  FreeleechBody,
  TokenBody,
  UserAnswer,
  TorrentAnswer,
  TokenAnswer,
  TokensAnswer,
  SwarmAnswer,
  AddressesAnswer,
  PeersAnswer,
  HotSwarmsAnswer,
  ClientAnswer,
  ClientsAnswer,
  HashListAnswer,
  ListEntryAnswer,
  FreeleechAnswer,
  ReloadAnswer,
  BulkUser,
  BulkTorrent,
  BulkUsersBody,
  BulkTorrentsBody,
  BulkAnswer,
  UsersPageAnswer,
  TorrentsPageAnswer,
  SyncAnswer,
  FinishSyncBody,
  SyncResultAnswer,
  ErrorAnswer,
];

const idOf = (schema: z.ZodType): string => (schema.meta() as { id: string }).id;
const ref = (schema: z.ZodType): Json => ({ $ref: `#/components/schemas/${idOf(schema)}` });

/** A schema for embedding: no $schema (the document's dialect is 2020-12 already) and no $id. */
function embedded(schema: Json): Json {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

function componentSchemas(): Record<string, Json> {
  // io "input": a field with a default is optional in a request body; answers have no defaults.
  const all = z.toJSONSchema(z.globalRegistry, { io: 'input', uri: (id) => `#/components/schemas/${id}` }).schemas as Record<string, Json>;
  return Object.fromEntries(COMPONENTS.map((schema) => [idOf(schema), embedded(all[idOf(schema)]!)]));
}

function parameter(name: string, schema: z.ZodType): Json {
  const json = embedded(z.toJSONSchema(schema) as Json);
  const { description, ...rest } = json;
  return { name, in: 'path', required: true, description, schema: rest };
}

const PARAMS = {
  id: parameter('id', UserIdParam),
  info_hash: parameter('info_hash', InfoHashParam),
  prefix: parameter('prefix', ClientPrefixParam),
  list: parameter('list', ListParam),
  kind: parameter('kind', SyncKindParam),
  sync: parameter('sync', SyncIdParam),
};

const query = (name: string, description: string, schema: Json): Json => ({ name, in: 'query', required: false, description, schema });
const LIMIT = query('limit', `items per page, 1 to ${MAX_PAGE} (default ${DEFAULT_PAGE})`, { type: 'integer', minimum: 1, maximum: MAX_PAGE });
const SYNC = query('sync', 'an open sync (POST /sync/{kind}) the batch belongs to', { type: 'string', pattern: '^[0-9a-f]{24}$' });

const json = (schema: Json): Json => ({ content: { 'application/json': { schema } } });
const answer = (description: string, schema: z.ZodType): Json => ({ description, ...json(ref(schema)) });
const error = (name: string): Json => ({ $ref: `#/components/responses/${name}` });
const body = (schema: z.ZodType): Json => ({ required: true, ...json(ref(schema)) });

/** The errors every authenticated operation may answer. */
const ALWAYS = { '401': error('Unauthorized'), '503': error('Unavailable') };
/** And those of an operation that reads a JSON body. */
const WITH_BODY = { '400': error('BadRequest'), '413': error('TooLarge'), '415': error('UnsupportedMediaType') };
const NO_CONTENT = { '204': { description: 'deleted' } };

function responses(): Json {
  const errorContent = json(ref(ErrorAnswer));
  const described = (description: string, extra: Json = {}): Json => ({ description, ...extra, ...errorContent });
  return {
    BadRequest: described('a bad path parameter or body: the message names the field first ("passkey: required")'),
    Unauthorized: described('no bearer token, or a wrong one (checked before routing: unknown paths answer this too)', {
      headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'Bearer realm="shoal"' } },
    }),
    NotFound: described('no such resource, list or route'),
    MethodNotAllowed: described('the path exists under other methods', {
      headers: { Allow: { schema: { type: 'string' }, description: 'the methods the path takes' } },
    }),
    Conflict: described('another user holds the passkey, another torrent the hash, or the user holds the most tokens allowed; nothing was changed'),
    TooLarge: described(`a body over ${MAX_BODY_BYTES} bytes (${MAX_BULK_BODY_BYTES} for a batch)`),
    UnsupportedMediaType: described('a body that is not JSON (Content-Type other than application/json)'),
    Unavailable: described('the tracker store is unreachable; try again later'),
  };
}

let cached: Json | null = null;

/** The document (built once; it only depends on the code). */
export function openApiDocument(): Json {
  cached ??= build();
  return cached;
}

function build(): Json {
  const stored = (schema: z.ZodType, what: string): Json => ({ '200': answer(`the ${what}, replaced`, schema), '201': answer(`the ${what}, created`, schema) });
  return {
    openapi: '3.1.0',
    info: {
      title: 'shoal management API',
      version: packageVersion(),
      description:
        'The catalogue of a shoal tracker: users (passkeys), registered torrents, approved clients, allow and deny lists, global freeleech. ' +
        'Served on admin.addr; keep it off the public network. PUT replaces the whole resource (omitted optional fields take their defaults) and answers 201 when it created it. ' +
        'Every error is a JSON {"error": "..."}; a path that exists under other methods answers 405 with Allow, any other unknown path 404.',
    },
    security: [{ bearer: [] }],
    paths: {
      '/users': {
        get: {
          summary: 'Page through the users, by id',
          parameters: [query('after', "the previous page's `next` (default 0: from the first)", { type: 'integer', minimum: 0, maximum: 4294967295 }), LIMIT],
          responses: { '200': answer('a page of users', UsersPageAnswer), '400': error('BadRequest'), ...ALWAYS },
        },
        put: {
          summary: 'Create or replace many users at once (validated whole, then written)',
          parameters: [SYNC],
          requestBody: body(BulkUsersBody),
          responses: { '200': answer('how many were put', BulkAnswer), ...WITH_BODY, '404': error('NotFound'), '409': error('Conflict'), ...ALWAYS },
        },
      },
      '/torrents': {
        get: {
          summary: 'Page through the registered torrents, by info hash',
          parameters: [query('after', "the previous page's `next` (default: from the first)", { type: 'string', pattern: '^[0-9a-fA-F]{40}$' }), LIMIT],
          responses: { '200': answer('a page of torrents', TorrentsPageAnswer), '400': error('BadRequest'), ...ALWAYS },
        },
        put: {
          summary: 'Register or replace many torrents at once (validated whole, then written)',
          parameters: [SYNC],
          requestBody: body(BulkTorrentsBody),
          responses: { '200': answer('how many were put', BulkAnswer), ...WITH_BODY, '404': error('NotFound'), '409': error('Conflict'), ...ALWAYS },
        },
      },
      '/sync/{kind}': {
        parameters: [PARAMS.kind],
        post: {
          summary: 'Begin a sync: the batches put with ?sync= are the whole set; finishing with replace deletes the rest',
          responses: { '201': answer('the sync', SyncAnswer), '404': error('NotFound'), ...ALWAYS },
        },
      },
      '/sync/{kind}/{sync}': {
        parameters: [PARAMS.kind, PARAMS.sync],
        post: {
          summary: 'Finish a sync',
          requestBody: body(FinishSyncBody),
          responses: { '200': answer('what is kept and what was removed', SyncResultAnswer), ...WITH_BODY, '404': error('NotFound'), ...ALWAYS },
        },
      },
      '/users/{id}': {
        parameters: [PARAMS.id],
        get: { summary: 'Read a user', responses: { '200': answer('the user', UserAnswer), '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS } },
        put: {
          summary: 'Create or replace a user',
          requestBody: body(UserBody),
          responses: { ...stored(UserAnswer, 'user'), ...WITH_BODY, '409': error('Conflict'), ...ALWAYS },
        },
        delete: { summary: 'Delete a user', responses: { ...NO_CONTENT, '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS } },
      },
      '/users/{id}/tokens': {
        parameters: [PARAMS.id],
        get: {
          summary: "A user's freeleech tokens",
          responses: { '200': answer('the tokens', TokensAnswer), '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS },
        },
      },
      '/users/{id}/tokens/{info_hash}': {
        parameters: [PARAMS.id, PARAMS.info_hash],
        get: {
          summary: "A user's freeleech token on a torrent",
          responses: { '200': answer('the token', TokenAnswer), '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS },
        },
        put: {
          summary:
            'Give a user a freeleech token on a registered torrent (either hash of a hybrid): its download there is not counted until `until` or its completion',
          requestBody: { required: false, ...json(ref(TokenBody)) },
          responses: { ...stored(TokenAnswer, 'token'), ...WITH_BODY, '404': error('NotFound'), '409': error('Conflict'), ...ALWAYS },
        },
        delete: { summary: 'Take a freeleech token back', responses: { ...NO_CONTENT, '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS } },
      },
      '/users/{id}/addresses': {
        parameters: [PARAMS.id],
        get: {
          summary: "A user's distinct addresses within private.address_window",
          responses: { '200': answer('the addresses', AddressesAnswer), '400': error('BadRequest'), ...ALWAYS },
        },
      },
      '/users/{id}/peers': {
        parameters: [PARAMS.id],
        get: {
          summary: "A user's (address, port) pairs within peer_ttl and whether each is connectable (private.connectable_check)",
          responses: { '200': answer('the peers', PeersAnswer), '400': error('BadRequest'), ...ALWAYS },
        },
      },
      '/torrents/{info_hash}': {
        parameters: [PARAMS.info_hash],
        get: {
          summary: 'Read a registered torrent',
          responses: { '200': answer('the torrent', TorrentAnswer), '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS },
        },
        put: {
          summary: 'Register or replace a torrent',
          requestBody: body(TorrentBody),
          responses: { ...stored(TorrentAnswer, 'torrent'), ...WITH_BODY, '409': error('Conflict'), ...ALWAYS },
        },
        delete: {
          summary: 'Unregister a torrent (private-mode announces for it are then refused, with the reason if one is given)',
          requestBody: { required: false, ...json(ref(DeleteTorrentBody)) },
          responses: { ...NO_CONTENT, ...WITH_BODY, '404': error('NotFound'), ...ALWAYS },
        },
      },
      '/torrents/{info_hash}/swarm': {
        parameters: [PARAMS.info_hash],
        get: {
          summary: 'Live counts of a swarm, registered or not',
          responses: { '200': answer('the counts', SwarmAnswer), '400': error('BadRequest'), ...ALWAYS },
        },
      },
      '/swarms/hot': {
        get: {
          summary: 'The hottest swarms by announce rate, over every replica when the tracker driver is shared',
          parameters: [{ ...parameter('limit', HotSwarmsLimitParam), in: 'query', required: false }],
          responses: { '200': answer('the hottest swarms', HotSwarmsAnswer), '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS },
        },
      },
      '/clients': {
        get: { summary: 'List the approved client prefixes', responses: { '200': answer('the approved clients, sorted', ClientsAnswer), ...ALWAYS } },
      },
      '/clients/{prefix}': {
        parameters: [PARAMS.prefix],
        put: { summary: 'Approve a client prefix', requestBody: body(ClientBody), responses: { ...stored(ClientAnswer, 'client'), ...WITH_BODY, ...ALWAYS } },
        delete: { summary: 'Withdraw a client prefix', responses: { ...NO_CONTENT, '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS } },
      },
      '/lists/{list}': {
        parameters: [PARAMS.list],
        get: {
          summary: 'The info hashes on the allow or deny list',
          responses: { '200': answer('the list', HashListAnswer), '404': error('NotFound'), ...ALWAYS },
        },
      },
      '/lists/{list}/{info_hash}': {
        parameters: [PARAMS.list, PARAMS.info_hash],
        put: {
          summary: 'Put an info hash on a list (always 200: telling a create would mean reading the list)',
          responses: { '200': answer('the entry', ListEntryAnswer), '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS },
        },
        delete: { summary: 'Take an info hash off a list', responses: { ...NO_CONTENT, '400': error('BadRequest'), '404': error('NotFound'), ...ALWAYS } },
      },
      '/freeleech': {
        get: { summary: 'The global freeleech switch', responses: { '200': answer('the switch', FreeleechAnswer), ...ALWAYS } },
        put: {
          summary: 'Set the global freeleech switch',
          requestBody: body(FreeleechBody),
          responses: { '200': answer('the switch', FreeleechAnswer), ...WITH_BODY, ...ALWAYS },
        },
      },
      '/config/reload': {
        post: {
          summary:
            'Read the configuration file and environment again and apply what can change at run time (as SIGHUP does); with all=true, ask every replica of a shared tracker driver too',
          parameters: [
            query('all', 'also every other replica of a shared tracker driver (each reloads its own file)', { type: 'string', enum: ['true', 'false'] }),
          ],
          responses: {
            '200': answer('what changed, what needs a restart (nothing invalid)', ReloadAnswer),
            '400': error('BadRequest'),
            '422': answer('the configuration is invalid: nothing changed (errors lists why)', ReloadAnswer),
            ...ALWAYS,
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          responses: { '200': { description: 'the OpenAPI 3.1 document', ...json({ type: 'object' }) }, '401': error('Unauthorized') },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin.token (TRACKER_ADMIN_TOKEN)' } },
      schemas: componentSchemas(),
      responses: responses(),
    },
  };
}

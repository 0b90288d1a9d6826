/**
 * The HTTP announce: request -> Tracker -> bencoded answer, and the fast path that serves most of them.
 *
 * Announces are nearly every request a tracker gets, so the app's first middleware answers the usual
 * URLs itself (GET /announce, /PASSKEY/announce and /users/PASSKEY/announce with a passkey that needs no
 * decoding) and writes the response with its two headers at once (ctx.respond = false), where the router
 * would match eight routes and Koa's response machinery would set status, type and length one by one.
 * Every other request (scrape, health, an announce URL in another spelling, HEAD) goes on to the router,
 * whose announce routes give the same answer through the same function. The headers are the ones Koa
 * writes for this body (Content-Type: text/plain, Content-Length), in the same order.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type { AnnounceRequest } from '../../bittorrent/announce.js';
import { blockedError, type Blocklists } from '../../blocklist/lists.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { Outcome, TrackerMetrics } from '../../metrics/metrics.js';
import type { Tracker } from '../../tracker/tracker.js';
import { countRequest, failureOutcome, failureReason, socketFamily } from '../sanitize.js';
import { resolveClientIp, type ClientIpOptions } from './client-ip.js';
import { parseAnnounce, type ParsedAnnounce } from './parser.js';
import { writeCompactAnnounce, writeDictAnnounce, writeFailure } from './writer.js';

export interface AnnounceOptions {
  tracker: Tracker;
  metrics?: TrackerMetrics;
  logError: (error: unknown) => void;
  maxQueryLength: number;
  clientIp: ClientIpOptions;
  /** BEP 24: answer each announce with the address the tracker saw (`external ip`). */
  externalIp: boolean;
  /** blocklist.files: clients refused before anything else; absent or null: none. */
  blocklists?: Blocklists | null;
}

/** The bencoded answer to one announce (a failure reason included: it never rejects), counted in the metrics. */
export type AnnounceAnswer = (req: IncomingMessage, passkey: string | undefined) => Promise<Buffer>;

/** The query string of a request target, without the `?`. */
export function queryOf(url: string | undefined): string {
  if (!url) return '';
  const mark = url.indexOf('?');
  return mark === -1 ? '' : url.slice(mark + 1);
}

export function announceAnswer(options: AnnounceOptions): AnnounceAnswer {
  const { tracker, metrics, logError, maxQueryLength, clientIp, externalIp, blocklists } = options;
  return async (req, passkey) => {
    const started = performance.now();
    let body: Buffer;
    let outcome: Outcome = 'ok';
    try {
      const sourceIp = resolveClientIp(req.socket.remoteAddress, req.headers, clientIp);
      if (!sourceIp) throw new ClientError('cannot determine your IP address');
      if (blocklists) checkBlocked(blocklists, sourceIp);
      const query = queryOf(req.url);
      if (query.length > maxQueryLength) throw new ClientError(`query string too long (at most ${maxQueryLength} bytes)`);
      const request = parseAnnounce(query);
      const result = await tracker.announce(announceRequest(request, sourceIp, passkey, req.headers['user-agent']));
      const seen = externalIp ? sourceIp : undefined;
      body = request.compact ? writeCompactAnnounce(result, seen) : writeDictAnnounce(result, !request.noPeerId, seen);
    } catch (error) {
      outcome = failureOutcome(error);
      body = writeFailure(failureReason(error, logError));
    }
    if (metrics) countRequest(metrics, 'http', 'announce', socketFamily(req.socket.remoteAddress), outcome, started);
    return body;
  };
}

/** A client on a blocklist gets its failure reason before its request is even parsed. */
export function checkBlocked(blocklists: Blocklists, sourceIp: Buffer): void {
  const list = blocklists.refuses(sourceIp, 'http');
  if (list !== null) throw blockedError(list);
}

/**
 * The parsed announce with its source address and passkey, written out field by field: a spread
 * (`{ ...parsed, sourceIp }`) makes an object V8 reads more slowly, on every announce.
 */
function announceRequest(parsed: ParsedAnnounce, sourceIp: Buffer, passkey: string | undefined, userAgent: string | undefined): AnnounceRequest {
  return {
    infoHash: parsed.infoHash,
    peerId: parsed.peerId,
    port: parsed.port,
    uploaded: parsed.uploaded,
    downloaded: parsed.downloaded,
    left: parsed.left,
    event: parsed.event,
    numwant: parsed.numwant,
    compact: parsed.compact,
    noPeerId: parsed.noPeerId,
    sourceIp,
    claimedIp: parsed.claimedIp,
    claimedIpv4: parsed.claimedIpv4,
    claimedIpv6: parsed.claimedIpv6,
    passkey,
    userAgent,
  };
}

const ANNOUNCE = '/announce';
const USERS = '/users/';

/**
 * The passkey of a request target the fast path serves: undefined for /announce, the passkey of
 * /PASSKEY/announce and /users/PASSKEY/announce; null for any other target (the router's business),
 * including a passkey with a `%` (the router decodes it).
 */
export function fastAnnouncePasskey(url: string): string | undefined | null {
  let pathEnd = url.indexOf('?');
  if (pathEnd === -1) pathEnd = url.length;
  if (pathEnd < ANNOUNCE.length || !url.startsWith(ANNOUNCE, pathEnd - ANNOUNCE.length)) return null;
  if (pathEnd === ANNOUNCE.length) return undefined;
  if (url.charCodeAt(0) !== 0x2f /* / */) return null;
  const segmentEnd = pathEnd - ANNOUNCE.length;
  const segmentStart = url.lastIndexOf('/', segmentEnd - 1) + 1;
  if (segmentStart === 1) {
    // /PASSKEY/announce
  } else if (segmentStart === USERS.length && url.startsWith(USERS)) {
    // /users/PASSKEY/announce
  } else {
    return null;
  }
  if (segmentEnd === segmentStart) return null;
  const passkey = url.slice(segmentStart, segmentEnd);
  return passkey.includes('%') ? null : passkey;
}

/** The first middleware: answers the announce URLs of fastAnnouncePasskey and passes on everything else. */
export function announceFastPath(answer: AnnounceAnswer): Middleware {
  return async (ctx, next) => {
    const req = ctx.req;
    const passkey = req.method === 'GET' && req.url !== undefined ? fastAnnouncePasskey(req.url) : null;
    if (passkey === null) {
      await next();
      return;
    }
    ctx.respond = false;
    writeAnswer(ctx.res, await answer(req, passkey));
  };
}

function writeAnswer(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(body.length)]);
  res.end(body);
}

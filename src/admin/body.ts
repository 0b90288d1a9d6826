/** Request bodies of the management API: one JSON object, of bounded size. */
import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import { ApiError, badRequest } from './errors.js';

/** Far above any resource's JSON (a user is under 200 bytes), far below anything that could hurt. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A bulk batch (PUT /users, PUT /torrents): 10,000 items of a few hundred bytes at most. */
export const MAX_BULK_BODY_BYTES = 4 * 1024 * 1024;

export type JsonObject = Record<string, unknown>;

export async function readJsonObject(ctx: Koa.Context, limit = MAX_BODY_BYTES): Promise<JsonObject> {
  const value = await readJson(ctx, limit);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) badRequest('the body must be a JSON object');
  return value as JsonObject;
}

/** A body that must be a JSON array (a bulk batch). */
export async function readJsonArray(ctx: Koa.Context, limit: number): Promise<unknown[]> {
  const value = await readJson(ctx, limit);
  if (!Array.isArray(value)) badRequest('the body must be a JSON array');
  return value as unknown[];
}

async function readJson(ctx: Koa.Context, limit: number): Promise<unknown> {
  if (ctx.get('Content-Type') !== '' && ctx.is('application/json') === false) {
    throw new ApiError(415, 'the body must be JSON (Content-Type: application/json)');
  }
  const bytes = await readLimited(ctx.req, limit);
  if (bytes.length === 0) badRequest('a JSON body is required');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    badRequest('the body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    badRequest('the body is not valid JSON');
  }
  return value;
}

/** The JSON object of a request whose body is optional (a DELETE's), or null when it has none. */
export async function readOptionalJsonObject(ctx: Koa.Context, limit = MAX_BODY_BYTES): Promise<JsonObject | null> {
  const length = ctx.get('Content-Length');
  if (ctx.get('Transfer-Encoding') === '' && (length === '' || length === '0')) return null;
  return readJsonObject(ctx, limit);
}

/**
 * The whole body, or a 413 as soon as it (or its declared Content-Length) passes `limit`. The rest of
 * an oversized body is read and discarded rather than cut off: closing a socket with unread data
 * resets the connection, and the caller would lose the 413 (callers are authenticated by now).
 */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | null): void => {
      req.off('data', onData).off('end', onEnd).off('error', onCut).off('close', onCut);
      if (error) {
        req.resume();
        reject(error);
      } else {
        resolve(Buffer.concat(chunks, size));
      }
    };
    const tooLarge = (): Error => new ApiError(413, `the body is larger than ${limit} bytes`);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) finish(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(null);
    // A caller that hangs up mid-body gets no answer anyway; a 400 keeps it out of the error log.
    const onCut = (): void => finish(new ApiError(400, 'the body was cut short'));
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      finish(tooLarge());
      return;
    }
    req.on('data', onData).on('end', onEnd).on('error', onCut).on('close', onCut);
  });
}

/** Bearer-token authentication of the management API. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { ApiError } from './errors.js';

const BEARER = /^Bearer +(\S+) *$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Refuses every request without `Authorization: Bearer <token>`, before routing, so that an
 * unauthenticated caller learns nothing, not even which paths exist. The comparison runs over SHA-256
 * digests with timingSafeEqual: constant time, and the token's length does not leak either.
 */
export function bearerAuth(token: string): Koa.Middleware {
  const expected = digest(token);
  return async (ctx, next) => {
    const given = BEARER.exec(ctx.get('Authorization'))?.[1];
    if (given === undefined) {
      throw new ApiError(401, 'missing bearer token (Authorization: Bearer <admin.token>)', { 'WWW-Authenticate': 'Bearer realm="shoal"' });
    }
    if (!timingSafeEqual(digest(given), expected)) {
      throw new ApiError(401, 'invalid bearer token', { 'WWW-Authenticate': 'Bearer realm="shoal", error="invalid_token"' });
    }
    await next();
  };
}

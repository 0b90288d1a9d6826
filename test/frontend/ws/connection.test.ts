/** A socket's memory of the offers relayed to it: what an answer is checked against. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { Connection, MAX_PENDING_OFFERS, OFFER_LIFETIME_MS } from '../../../src/frontend/ws/connection.js';

const T0 = 1_000_000;
const socket = {} as WebSocket; // never used by these methods
const IP = Buffer.from([127, 0, 0, 1]);
const offer = (from: string, to: string, now: number) => ({ from, to, infoHash: 'h'.repeat(20), replica: 'r', expires: now + OFFER_LIFETIME_MS });

describe('Connection offers', () => {
  it('answers an offer once, within its lifetime only', () => {
    const conn = new Connection(socket, IP, 'addr', undefined, T0);
    conn.rememberOffer('id1', offer('offerer', 'me', T0));
    conn.rememberOffer('id2', offer('offerer', 'me', T0));
    assert.equal(conn.takeOffer('offerer', 'id1', T0 + OFFER_LIFETIME_MS - 1)?.to, 'me');
    assert.equal(conn.takeOffer('offerer', 'id1', T0 + 1), undefined, 'one answer per offer');
    assert.equal(conn.takeOffer('offerer', 'id2', T0 + OFFER_LIFETIME_MS + 1), undefined, 'too late');
    assert.equal(conn.takeOffer('someone-else', 'id2', T0), undefined);
  });

  it('leaves an offer to its real answer when an answer names another offerer', () => {
    const conn = new Connection(socket, IP, 'addr', undefined, T0);
    conn.rememberOffer('id1', offer('offerer', 'me', T0));
    assert.equal(conn.takeOffer('forger', 'id1', T0), undefined, 'not the offerer of id1');
    assert.equal(conn.takeOffer('offerer', 'id1', T0)?.from, 'offerer', 'still there for the real answer');
  });

  it('keeps at most MAX_PENDING_OFFERS, dropping the oldest', () => {
    const conn = new Connection(socket, IP, 'addr', undefined, T0);
    for (let i = 0; i <= MAX_PENDING_OFFERS; i++) conn.rememberOffer(`id${i}`, offer('o', 'me', T0 + i));
    assert.equal(conn.takeOffer('o', 'id0', T0 + MAX_PENDING_OFFERS), undefined, 'the oldest went');
    assert.equal(conn.takeOffer('o', 'id1', T0 + MAX_PENDING_OFFERS)?.to, 'me');
    assert.equal(conn.takeOffer('o', `id${MAX_PENDING_OFFERS}`, T0 + MAX_PENDING_OFFERS)?.to, 'me');
  });

  it('drops expired offers as new ones come', () => {
    const conn = new Connection(socket, IP, 'addr', undefined, T0);
    conn.rememberOffer('old', offer('o', 'me', T0));
    conn.rememberOffer('new', offer('o', 'me', T0 + OFFER_LIFETIME_MS + 5));
    assert.equal(conn.takeOffer('o', 'old', T0), undefined, 'gone once a newer offer found it expired');
  });

  it('budgets messages per minute', () => {
    const conn = new Connection(socket, IP, 'addr', undefined, T0);
    for (let i = 0; i < 3; i++) assert.equal(conn.spend(T0 + i, 3), true);
    assert.equal(conn.spend(T0 + 10, 3), false);
    assert.equal(conn.spend(T0 + 60_001, 3), true, 'a new minute');
  });
});

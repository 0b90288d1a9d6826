/**
 * What the tracker tells clients it turns away or keeps out (request budgets, min interval, admission
 * control), and the observer through which it reports them (the metrics implement it; the tracker
 * imports nothing of theirs).
 */
import type { Transport } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import type { BudgetScope } from './budget.js';
import type { NotStored } from '../store/driver.js';
import type { TokenEnd } from '../backend/driver.js';

/** What a peer that announces sooner than min interval without an event gets. */
export type MinIntervalEnforcement = 'off' | 'answer' | 'refuse';
export const MIN_INTERVAL_ENFORCEMENTS = ['off', 'answer', 'refuse'] as const satisfies readonly MinIntervalEnforcement[];

/** Where a request came in, as the budget refusals are counted: HTTP, UDP or WebTorrent's WebSocket. */
export type BudgetProtocol = Transport | 'webtorrent';

export interface DefenceObserver {
  /** A request refused because its address or subnet spent its budget. */
  overBudget(protocol: BudgetProtocol, action: 'announce' | 'scrape', scope: BudgetScope): void;
  /** An announce without an event sooner than min interval: answered without a write, or refused. */
  tooSoon(refused: boolean): void;
  /** A peer answered but not stored. */
  notStored(reason: NotStored): void;
  /** A private announce answered without peers: its user spent private.peer_list_budget. */
  peerListWithheld(): void;
  /** A freeleech token ended with an announce, and whether deleting it from the catalogue failed (after retries). */
  tokenEnded(end: TokenEnd, failed: boolean): void;
  /** A connectability check's outcome, or one skipped (a refused address, a full queue); optional. */
  connectabilityChecked?(result: 'connectable' | 'not_connectable' | 'skipped'): void;
}

/**
 * Made once: a refusal over budget must cost next to nothing, so it is not even a new Error (nobody
 * reads its stack; the message is what the client gets).
 */
export const OVER_BUDGET: Record<BudgetScope, ClientError> = {
  address: new ClientError('too many requests from your address: slow down and retry later'),
  subnet: new ClientError('too many requests from your network: slow down and retry later'),
};

export const TOO_SOON = new ClientError('announcing too often: wait min interval between announces without an event');

export const NOT_STORED_WARNINGS: Record<NotStored, string> = {
  peer_limit: 'the tracker holds as many peers as it may: you got peers but were not added to the swarm',
  swarm_limit: 'this swarm holds as many peers as it may: you got peers but were not added to it',
  out_of_memory: 'the tracker is out of storage: you got peers but were not added to the swarm',
};

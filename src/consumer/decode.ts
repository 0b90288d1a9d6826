/**
 * Stream entries to accounting records, setting aside the ones that cannot be applied: a malformed
 * entry must never stop the consumer, so it becomes a dead letter and is acknowledged like the rest.
 */
import type { AccountingRecord } from '../backend/driver.js';
import { fromFields } from '../backend/stream/entry.js';

export interface StreamEntry {
  /** The entry's id in the stream (not the record's id). */
  streamId: string;
  /** null when the entry was deleted (trimmed) while it was pending. */
  fields: string[] | null;
}

export interface DeadLetter {
  streamId: string;
  fields: string[] | null;
  error: string;
}

export interface Decoded {
  records: AccountingRecord[];
  deadLetters: DeadLetter[];
}

// PostgreSQL text cannot hold NUL: an id with one would fail every transaction it is in.
const NUL = '\u0000';
export const clean = (text: string): string => text.replaceAll(NUL, '\uFFFD');

export function decodeEntries(entries: StreamEntry[]): Decoded {
  const records: AccountingRecord[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const { streamId, fields } of entries) {
    if (fields === null) {
      deadLetters.push({ streamId, fields: null, error: 'the entry was deleted from the stream before it was applied (trimmed by max_len?)' });
      continue;
    }
    try {
      const record = fromFields(fields);
      if (record.id.includes(NUL)) throw new Error('stream entry: id contains a NUL character');
      records.push(record);
    } catch (error) {
      deadLetters.push({ streamId, fields: fields.map(clean), error: clean((error as Error).message) });
    }
  }
  return { records, deadLetters };
}

/**
 * The backend driver contract: where a private site's accounting goes. The tracker hands it one
 * record per announce; the driver batches them for the site's slower database. `record` must never
 * make the announce wait on that database.
 */
import type { Logger } from 'pino';

export interface AnnounceRecord {
  infoHash: Buffer;
  peerId: Buffer;
  event: string;
  uploaded: number;
  downloaded: number;
  left: number;
  /** Unix milliseconds. */
  time: number;
}

export interface Backend {
  record(entry: AnnounceRecord): void;
  /** Flushes what is buffered; called on shutdown. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface BackendContext {
  logger: Logger;
}

export interface BackendDriver {
  /** True when the tracker should build records at all; a driver that drops them says false. */
  readonly wantsRecords: boolean;
  open(params: Record<string, unknown>, ctx: BackendContext): Promise<Backend>;
}

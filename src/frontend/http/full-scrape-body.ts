/**
 * A full scrape's answer, encoded once per snapshot: the tracker hands out the same files array until
 * its next build (src/tracker/full-scrape.ts), so the bencoded body and its gzip are kept beside it and
 * reused for every request of that snapshot. A client that accepts gzip gets it with
 * `Content-Encoding: gzip`; any other gets the plain body. Same content either way.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { ScrapeResult } from '../../bittorrent/announce.js';
import { writeScrape } from './writer.js';

const gzip = promisify(gzipCallback);

interface Encoded {
  files: ScrapeResult['files'];
  minRequestInterval: number;
  plain: Buffer;
  gzipped: Promise<Buffer> | null;
}

export class FullScrapeBodies {
  private last: Encoded | null = null;

  /** The answer to `result`, gzip-encoded when `wantGzip`. */
  async body(result: ScrapeResult, wantGzip: boolean): Promise<Buffer> {
    let encoded = this.last;
    if (!encoded || encoded.files !== result.files || encoded.minRequestInterval !== result.minRequestInterval) {
      encoded = { files: result.files, minRequestInterval: result.minRequestInterval, plain: writeScrape(result), gzipped: null };
      this.last = encoded;
    }
    if (!wantGzip) return encoded.plain;
    encoded.gzipped ??= gzip(encoded.plain);
    return encoded.gzipped;
  }
}

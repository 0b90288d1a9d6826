/**
 * The HTTPS listener's certificate: read and checked at start, and read again without a restart when its
 * files change or on SIGHUP.
 *
 * The files are watched through their directories, not themselves: cert-manager updates a Kubernetes
 * Secret mount by pointing the `..data` symlink at a new directory, and certbot and most tools write a new
 * file and rename it over the old one, so the file first watched is never written to again. A change is
 * read once the directory has been quiet for a moment (tools write the certificate and the key one after
 * the other), both files are read, and the pair is checked (the key must match the certificate) before
 * any listener gets it: a bad or half-written pair leaves the previous one served, and says so in the log
 * and the metrics.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { TlsMetrics } from '../../metrics/tls.js';

/** Largest certificate or key file read: a chain of a few certificates is a few kilobytes. */
export const MAX_PEM_BYTES = 1024 * 1024;

/** How long a directory must be quiet after a change before the files are read. */
const DEBOUNCE_MS = 1000;

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint of the (first) certificate, as node prints it. */
  fingerprint: string;
  notAfter: Date;
}

/** A file that cannot be read, or a pair that is not one; `key` names the configuration key at fault. */
export class TlsFileError extends Error {
  constructor(
    readonly key: 'http.tls.cert' | 'http.tls.key' | 'http.tls',
    message: string,
  ) {
    super(message);
  }
}

async function readPem(path: string, key: 'http.tls.cert' | 'http.tls.key'): Promise<Buffer> {
  try {
    const file = await open(path, 'r');
    try {
      // One byte more than the limit tells a file at the limit from a larger one.
      const buffer = Buffer.alloc(MAX_PEM_BYTES + 1);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      if (bytesRead > MAX_PEM_BYTES) throw new TlsFileError(key, `${path} is larger than ${MAX_PEM_BYTES} bytes`);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (error) {
    if (error instanceof TlsFileError) throw error;
    throw new TlsFileError(key, `cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Reads both files and checks that they are a certificate and its key. */
export async function readTlsPair(files: TlsFiles): Promise<TlsPair> {
  const [cert, key] = await Promise.all([readPem(files.cert, 'http.tls.cert'), readPem(files.key, 'http.tls.key')]);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new TlsFileError('http.tls.cert', `${files.cert} holds no PEM certificate: ${(error as Error).message}`);
  }
  try {
    // What setSecureContext would do with the pair, without serving it: a key of another certificate fails here.
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsFileError('http.tls', `${files.cert} and ${files.key} are not a certificate and its key: ${(error as Error).message}`);
  }
  return { cert, key, fingerprint: x509.fingerprint256, notAfter: new Date(x509.validTo) };
}

/** What a listener offers to take a new certificate: tls.Server and https.Server. */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

export interface CertificateReloaderOptions {
  files: TlsFiles;
  /** The pair served now (read at start). */
  current: TlsPair;
  servers: SecureContextTarget[];
  logger: Logger;
  metrics?: TlsMetrics;
  debounceMs?: number;
}

export class CertificateReloader {
  private current: TlsPair;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The reload running now; another one asked for meanwhile runs after it. */
  private running: Promise<boolean> = Promise.resolve(false);

  constructor(private readonly options: CertificateReloaderOptions) {
    this.current = options.current;
    options.metrics?.served(options.current.notAfter);
  }

  /** The pair served now. */
  get served(): TlsPair {
    return this.current;
  }

  /** Watches the directories of both files. */
  start(): void {
    const { files, logger } = this.options;
    for (const dir of new Set([dirname(files.cert), dirname(files.key)])) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.changed());
        watcher.on('error', (error) => logger.error({ err: error, dir }, 'tls: cannot watch the certificate directory any more; SIGHUP still reloads'));
        this.watchers.push(watcher);
      } catch (error) {
        logger.error({ err: error, dir }, 'tls: cannot watch the certificate directory; SIGHUP still reloads');
      }
    }
  }

  close(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload();
    }, this.options.debounceMs ?? DEBOUNCE_MS);
    this.timer.unref();
  }

  /**
   * Reads both files again and serves them if they are a new valid pair. Resolves true when a new pair is
   * served; never rejects (a failure is logged and counted, and the previous pair stays).
   */
  reload(): Promise<boolean> {
    this.running = this.running.then(() => this.readAndApply());
    return this.running;
  }

  private async readAndApply(): Promise<boolean> {
    const { files, servers, logger, metrics } = this.options;
    let pair: TlsPair;
    try {
      pair = await readTlsPair(files);
    } catch (error) {
      metrics?.reloaded('error');
      logger.error({ err: error, served: this.current.fingerprint }, 'tls: the new certificate was not loaded; the previous one is still served');
      return false;
    }
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) {
      metrics?.reloaded('unchanged');
      return false;
    }
    try {
      for (const server of servers) server.setSecureContext({ cert: pair.cert, key: pair.key });
    } catch (error) {
      metrics?.reloaded('error');
      logger.error({ err: error }, 'tls: the new certificate was refused; the previous one is still served');
      return false;
    }
    this.current = pair;
    metrics?.served(pair.notAfter);
    metrics?.reloaded('ok');
    logger.info({ fingerprint: pair.fingerprint, not_after: pair.notAfter.toISOString() }, 'tls: new certificate served');
    return true;
  }
}

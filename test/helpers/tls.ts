/** Test-side TLS: throwaway self-signed certificates (openssl), HTTPS requests, and the certificate a listener serves. */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { HttpReply } from './http.js';

export interface TestCertificate {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
  fingerprint: string;
  /** notAfter as a Unix time, in seconds. */
  notAfter: number;
}

/** A self-signed certificate for localhost and 127.0.0.1 (EC P-256, valid for a day), written into `dir` as NAME.crt and NAME.key. */
export function makeCertificate(dir: string, name: string): TestCertificate {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=localhost`,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(certPath);
  const x509 = new X509Certificate(cert);
  return { certPath, keyPath, cert, key: readFileSync(keyPath), fingerprint: x509.fingerprint256, notAfter: Math.floor(Date.parse(x509.validTo) / 1000) };
}

/** GET over HTTPS on a fresh connection, trusting `ca` only (the name checked is 127.0.0.1's). */
export function httpsGet(port: number, path: string, ca: Buffer): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout GET ${path}`)));
    req.end();
  });
}

/** The SHA-256 fingerprint of the certificate a TLS listener serves now (a fresh handshake, not verified). */
export function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
  });
}

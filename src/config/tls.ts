/** The `http.tls` section of the configuration: HTTPS (and WSS) on the tracker's HTTP listener. */
import { z } from 'zod';
import { duration, section } from './leaves.js';

const path = () => z.string({ error: 'must be a file path' }).max(4096, { error: 'a path is at most 4096 characters' });

export function tlsSection() {
  return section({
    cert: path()
      .prefault('')
      .describe(
        'PEM certificate chain file (the certificate first, then its intermediates); with http.tls.key set, http.addr serves HTTPS and WSS (or http.https_addr does, beside it). The files are read again when they change and on SIGHUP.',
      ),
    key: path().prefault('').describe('PEM private key file of http.tls.cert.'),
    handshake_timeout: duration(1, 300)
      .prefault(10)
      .describe('Seconds a new connection has to complete its TLS handshake; beyond it the connection is closed (before any HTTP timeout starts).'),
  });
}

interface TlsKeys {
  https_addr: unknown;
  tls: { cert: string; key: string };
}

/** Checks across the keys of `http`: a certificate needs its key and the other way round; https_addr needs both. */
export function checkTls(http: TlsKeys, fail: (key: string, message: string) => void): void {
  const { cert, key } = http.tls;
  if (cert !== '' && key === '') fail('http.tls.key', 'required when http.tls.cert is set');
  if (key !== '' && cert === '') fail('http.tls.cert', 'required when http.tls.key is set');
  if (http.https_addr && (cert === '' || key === '')) fail('http.https_addr', 'needs http.tls.cert and http.tls.key');
}

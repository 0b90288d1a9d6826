/**
 * The simulated site's catalogue: its users (passkeys, multipliers) and torrents (some hybrid, some
 * freeleech), and their registration through the management API, which the soak repeats after Redis
 * lost everything, as a site's sync job would. Only integer multipliers: credited bytes are exact.
 */
import { request } from 'node:http';
import type { Random } from './random.js';

export const USER_COUNT = 50;
export const TORRENT_COUNT = 20;
const MIB = 1024 * 1024;

export interface SoakUser {
  id: number;
  passkey: string;
  upMultiplier: number;
  downMultiplier: number;
}

export interface SoakTorrent {
  id: number;
  infoHash: Buffer;
  /** A hybrid (BEP 52) torrent's v2 hash, truncated to 20 bytes. */
  infoHashV2?: Buffer;
  upMultiplier: number;
  downMultiplier: number;
  freeleech: boolean;
  /** Bytes a leecher downloads in all. */
  size: number;
}

const PASSKEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function planCatalogue(random: Random): { users: SoakUser[]; torrents: SoakTorrent[] } {
  const users = Array.from({ length: USER_COUNT }, (_, i): SoakUser => {
    let passkey = '';
    for (let c = 0; c < 32; c++) passkey += PASSKEY_ALPHABET[random.int(0, PASSKEY_ALPHABET.length - 1)];
    // Every fifth user has a double-upload bonus.
    return { id: 1 + i, passkey, upMultiplier: i % 5 === 4 ? 2 : 1, downMultiplier: 1 };
  });
  const torrents = Array.from({ length: TORRENT_COUNT }, (_, i): SoakTorrent => {
    // A size a session downloads within its lifetime or not, so that both completions and
    // still-leeching sessions happen: 64 MiB to 1 GiB.
    const size = random.int(64, 1024) * MIB + random.int(0, MIB - 1);
    return {
      id: 1001 + i,
      infoHash: random.bytes(20),
      // Every third torrent is hybrid (v1 + v2).
      ...(i % 3 === 0 ? { infoHashV2: random.bytes(20) } : {}),
      // One torrent credits double upload, through the torrent's own multiplier.
      upMultiplier: i === 4 ? 2 : 1,
      downMultiplier: 1,
      // Two freeleech torrents: downloads count 0.
      freeleech: i === 1 || i === 2,
      size,
    };
  });
  return { users, torrents };
}

/** A management API call gives up after this long and goes to another replica (one may be down or reconnecting). */
const ADMIN_TIMEOUT_MS = 3000;

function putJson(port: number, token: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
    const req = request({ host: '127.0.0.1', port, path, method: 'PUT', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(ADMIN_TIMEOUT_MS, () => req.destroy(new Error(`timeout after ${ADMIN_TIMEOUT_MS} ms`)));
    req.end(payload);
  });
}

let next = 0;

/** PUT one resource on the first management API of `ports` that answers 200 or 201; throws after `deadline`. */
async function put(ports: () => number[], token: string, path: string, body: unknown, deadline: number): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    const list = ports();
    // Round robin across replicas, from a different one each time, as a load balancer would.
    const port = list[next++ % list.length]!;
    try {
      const reply = await putJson(port, token, path, body);
      if (reply.status === 200 || reply.status === 201) return;
      last = `${reply.status} ${reply.text.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    // A replica down or Redis away (503): another replica, after a short pause.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`PUT ${path} did not succeed before the deadline: ${last}`);
}

/** Registers every user and torrent (PUT is idempotent), through whichever replica answers. */
export async function registerCatalogue(
  adminPorts: () => number[],
  token: string,
  users: readonly SoakUser[],
  torrents: readonly SoakTorrent[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const user of users) {
    await put(
      adminPorts,
      token,
      `/users/${user.id}`,
      { passkey: user.passkey, up_multiplier: user.upMultiplier, down_multiplier: user.downMultiplier },
      deadline,
    );
  }
  for (const torrent of torrents) {
    await put(
      adminPorts,
      token,
      `/torrents/${torrent.infoHash.toString('hex')}`,
      {
        id: torrent.id,
        ...(torrent.infoHashV2 ? { info_hash_v2: torrent.infoHashV2.toString('hex') } : {}),
        up_multiplier: torrent.upMultiplier,
        down_multiplier: torrent.downMultiplier,
        freeleech: torrent.freeleech,
      },
      deadline,
    );
  }
}

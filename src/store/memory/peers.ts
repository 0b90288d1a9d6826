/**
 * The peers of one swarm (one torrent, one address family) without one JavaScript object per peer: a
 * struct of arrays in a single ArrayBuffer per swarm, whose slots 0..count-1 are dense.
 *
 *   seen  u32 × C        last seen, in ticks of the store's clock (see store.ts)
 *   index u16/u32 × M    open addressing with linear probing, slot + 1 per entry (0 = empty)
 *   bytes                compact addresses, `addrSize` (6 or 18) bytes per slot, then peer ids, 20 per slot
 *
 * Most swarms are small, and their memory is mostly these arrays, so the capacity C of a small table
 * grows by an eighth at a time (a power of two would leave up to half of it unused; the copies cost
 * a few bytes' memcpy per added peer) and its index entries are 16 bits wide. From WIDE_CAPACITY up, C doubles (a table that large is rare, and one
 * allocation per power of two keeps its growth cheap) and the index entries are 32 bits. The capacity
 * shrinks when the swarm falls under a quarter of it, so a swarm holds at most four times what its peers
 * need, and an emptied swarm is dropped by the store. The index has at least two entries per slot (load
 * at most one half, so probe runs stay short; a power of two, so that a mask finds an entry's home) and
 * is keyed by the compact address itself: looking a peer up allocates nothing. A change of capacity that
 * keeps the index's size copies the index as it is; only a new size rehashes the peers.
 * Seeders are slots [0, seeders), leechers [seeders, count): each kind is a dense range to sample from
 * by index. Removal fills the hole from the end of its range (and, for a seeder, the seeders' hole from
 * the end of the leechers), so every operation is O(1) apart from the amortised resizes.
 * User ids (private mode only) live in a Uint32Array of their own, allocated by the first peer that has
 * one, so that public swarms do not pay for them.
 */
import { PEER_ID_LENGTH } from '../../bittorrent/announce.js';
import { hashAddress } from './address-hash.js';

const MIN_CAPACITY = 4;
/** The largest capacity whose slot numbers (plus one) fit 16-bit index entries; beyond it, C doubles. */
export const WIDE_CAPACITY = 32_768;
const NOT_SCANNING = -1;

/** The capacity after `capacity` when the table is full. */
function grown(capacity: number): number {
  if (capacity >= WIDE_CAPACITY) return capacity * 2;
  return Math.min(WIDE_CAPACITY, roundUp4(capacity + capacity / 8));
}

/** The capacity to make room for `count` peers at once. */
function fitting(count: number): number {
  if (count <= WIDE_CAPACITY) return Math.max(MIN_CAPACITY, roundUp4(count));
  let capacity = WIDE_CAPACITY;
  while (capacity < count) capacity *= 2;
  return capacity;
}

function roundUp4(n: number): number {
  return (Math.ceil(n) + 3) & ~3;
}

/** The index's number of entries for capacity C: a power of two, at least 2C. */
function indexSize(capacity: number): number {
  if (capacity === 0) return 0;
  let size = 1;
  while (size < capacity * 2) size *= 2;
  return size;
}

export class PeerTable {
  count = 0;
  seeders = 0;
  capacity = 0;
  private seen!: Uint32Array;
  private index!: Uint16Array | Uint32Array;
  bytes!: Uint8Array;
  /** Byte offsets of the addresses and of the peer ids in `bytes`. */
  addrOffset = 0;
  idOffset = 0;
  users: Uint32Array | null = null;
  private mask = 0;

  /**
   * A lower bound of the last-seen ticks of the table's peers, exact after each expiry pass: the store's
   * expiry queue looks at the table once this falls behind the cutoff, and not before. (The store may
   * move it later by a fraction of a second after a pass, to batch the expiry of a large swarm.)
   */
  due: number;
  /** Position in the store's expiry queue; -1 once the table is dropped. */
  queueIndex = -1;
  /** An expiry pass over this table, which may span several slices: the next slot to examine, downwards. */
  private scanAt = NOT_SCANNING;
  private scanMin = 0;

  constructor(
    readonly addrSize: number,
    /** The owning torrent's key, to drop it once its last table empties. */
    readonly torrentKey: string,
    tick: number,
    /** Peers to make room for at once (a snapshot's table): one allocation instead of a doubling per power of two. */
    expected = MIN_CAPACITY,
  ) {
    this.due = tick;
    this.allocate(fitting(expected));
  }

  get leechers(): number {
    return this.count - this.seeders;
  }

  lastSeen(slot: number): number {
    return this.seen[slot]!;
  }

  userOf(slot: number): number {
    return this.users === null ? 0 : this.users[slot]!;
  }

  /** The slot of the peer with compact address `addr`, or -1. */
  find(addr: Uint8Array): number {
    const size = this.addrSize;
    const index = this.index;
    const bytes = this.bytes;
    let i = hashAddress(addr, 0, size) & this.mask;
    for (;;) {
      const entry = index[i]!;
      if (entry === 0) return -1;
      const start = this.addrOffset + (entry - 1) * size;
      let b = 0;
      while (b < size && bytes[start + b] === addr[b]) b++;
      if (b === size) return entry - 1;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * A snapshot's peer (snapshot.ts): find() and add() reading the address and the peer id in place in
   * `src`, from `addrAt` and `idAt`, where two subarrays per peer would be a million objects per million
   * peers. False, and nothing added, if the address is in the table already.
   */
  restorePeer(src: Uint8Array, addrAt: number, idAt: number, seeder: boolean, tick: number, userId: number): boolean {
    const size = this.addrSize;
    let i = hashAddress(src, addrAt, size) & this.mask;
    for (let entry = this.index[i]!; entry !== 0; i = (i + 1) & this.mask, entry = this.index[i]!) {
      const start = this.addrOffset + (entry - 1) * size;
      let b = 0;
      while (b < size && this.bytes[start + b] === src[addrAt + b]) b++;
      if (b === size) return false;
    }
    this.addAt(src, addrAt, src, idAt, seeder, tick, userId);
    return true;
  }

  /** Adds a peer that find() did not find; returns its slot. */
  add(addr: Uint8Array, peerId: Uint8Array, seeder: boolean, tick: number, userId: number): number {
    return this.addAt(addr, 0, peerId, 0, seeder, tick, userId);
  }

  /** add() of the address at `addrAt` in `addrs` and the peer id at `idAt` in `ids`. */
  private addAt(addrs: Uint8Array, addrAt: number, ids: Uint8Array, idAt: number, seeder: boolean, tick: number, userId: number): number {
    if (this.count === this.capacity) this.allocate(grown(this.capacity));
    let slot = this.count++;
    if (seeder) {
      // The first leecher moves to the end, so the seeders' range can take its slot.
      if (this.seeders < slot) this.move(this.seeders, slot);
      slot = this.seeders++;
    }
    const bytes = this.bytes;
    const addrStart = this.addrOffset + slot * this.addrSize;
    for (let b = 0; b < this.addrSize; b++) bytes[addrStart + b] = addrs[addrAt + b]!;
    this.insertIndex(slot);
    this.seen[slot] = tick;
    const idStart = this.idOffset + slot * PEER_ID_LENGTH;
    for (let b = 0; b < PEER_ID_LENGTH; b++) bytes[idStart + b] = ids[idAt + b]!;
    if (userId !== 0 && this.users === null) this.users = new Uint32Array(this.capacity);
    if (this.users !== null) this.users[slot] = userId;
    return slot;
  }

  /** Records an announce of the peer in `slot`. */
  refresh(slot: number, peerId: Uint8Array, tick: number, userId: number): void {
    this.seen[slot] = tick;
    const idStart = this.idOffset + slot * PEER_ID_LENGTH;
    for (let b = 0; b < PEER_ID_LENGTH; b++) this.bytes[idStart + b] = peerId[b]!;
    if (userId !== 0 && this.users === null) this.users = new Uint32Array(this.capacity);
    if (this.users !== null) this.users[slot] = userId;
  }

  /** Makes the peer in `slot` a seeder or a leecher; returns its slot, which may have changed. */
  setKind(slot: number, seeder: boolean): number {
    if (seeder === slot < this.seeders) return slot;
    const edge = seeder ? this.seeders++ : --this.seeders;
    this.swap(slot, edge);
    return edge;
  }

  /** Removes the peer in `slot`. The caller drops the table when it is empty. */
  remove(slot: number): void {
    this.deleteIndex(slot);
    const last = --this.count;
    if (slot < this.seeders) {
      const lastSeeder = --this.seeders;
      if (slot !== lastSeeder) this.move(lastSeeder, slot);
      slot = lastSeeder;
    }
    if (slot !== last) this.move(last, slot);
    if (this.capacity > MIN_CAPACITY && this.count * 4 < this.capacity) {
      this.allocate(this.capacity > WIDE_CAPACITY ? this.capacity / 2 : Math.max(MIN_CAPACITY, roundUp4(this.count * 2)));
    }
  }

  /**
   * One step of an expiry pass: examines up to `examine` slots, removing up to `maxRemove` peers last seen
   * before tick `cutoff` (`now`: the current tick). The pass goes downwards, so that the peer each
   * removal moves into the hole comes from slots already examined. When the pass has been over every slot,
   * `due` becomes the oldest survivor's tick and `scanning` turns false. Returns how many slots it examined.
   */
  expire(cutoff: number, now: number, examine: number, maxRemove: number): number {
    if (this.scanAt === NOT_SCANNING) {
      this.scanAt = this.count;
      // Peers announcing during the pass are seen at `now` or later.
      this.scanMin = now;
    }
    let removed = 0;
    let examined = 0;
    let slot = Math.min(this.scanAt, this.count) - 1;
    for (; slot >= 0 && examined < examine; slot--, examined++) {
      // this.seen, not a local: a removal may shrink the table into a new buffer.
      const seen = this.seen[slot]!;
      if (seen < cutoff) {
        if (removed === maxRemove) break;
        this.remove(slot);
        removed++;
        if (this.count === 0) break;
      } else if (seen < this.scanMin) {
        this.scanMin = seen;
      }
    }
    if (slot < 0 || this.count === 0) {
      this.scanAt = NOT_SCANNING;
      this.due = this.scanMin;
    } else {
      this.scanAt = slot + 1;
    }
    return examined;
  }

  get scanning(): boolean {
    return this.scanAt !== NOT_SCANNING;
  }

  /** Gives the memory back at once (the table is dropped; its queue entry may outlive it briefly). */
  release(): void {
    this.count = this.seeders = 0;
    this.users = null;
    this.allocate(0);
  }

  /** Copies the peer in `from` to slot `to` (whose previous peer is gone) and re-points its index entry. */
  private move(from: number, to: number): void {
    const seen = this.seen;
    const bytes = this.bytes;
    // A pass in progress has examined the slots from scanAt upwards: a peer moved up there from below
    // would be missed, so its age counts towards the pass now.
    if (this.scanAt !== NOT_SCANNING && from < this.scanAt && to >= this.scanAt && seen[from]! < this.scanMin) this.scanMin = seen[from]!;
    this.index[this.indexPosition(from)] = to + 1;
    seen[to] = seen[from]!;
    if (this.users !== null) this.users[to] = this.users[from]!;
    const size = this.addrSize;
    const addrFrom = this.addrOffset + from * size;
    const addrTo = this.addrOffset + to * size;
    for (let b = 0; b < size; b++) bytes[addrTo + b] = bytes[addrFrom + b]!;
    const idFrom = this.idOffset + from * PEER_ID_LENGTH;
    const idTo = this.idOffset + to * PEER_ID_LENGTH;
    for (let b = 0; b < PEER_ID_LENGTH; b++) bytes[idTo + b] = bytes[idFrom + b]!;
  }

  private swap(a: number, b: number): void {
    if (a === b) return;
    const seen = this.seen;
    const bytes = this.bytes;
    const positionA = this.indexPosition(a);
    const positionB = this.indexPosition(b);
    this.index[positionA] = b + 1;
    this.index[positionB] = a + 1;
    if (this.scanAt !== NOT_SCANNING) {
      const low = Math.min(a, b);
      if (low < this.scanAt && Math.max(a, b) >= this.scanAt && seen[low]! < this.scanMin) this.scanMin = seen[low]!;
    }
    let t = seen[a]!;
    seen[a] = seen[b]!;
    seen[b] = t;
    if (this.users !== null) {
      t = this.users[a]!;
      this.users[a] = this.users[b]!;
      this.users[b] = t;
    }
    const size = this.addrSize;
    for (let i = 0, x = this.addrOffset + a * size, y = this.addrOffset + b * size; i < size; i++) {
      t = bytes[x + i]!;
      bytes[x + i] = bytes[y + i]!;
      bytes[y + i] = t;
    }
    for (let i = 0, x = this.idOffset + a * PEER_ID_LENGTH, y = this.idOffset + b * PEER_ID_LENGTH; i < PEER_ID_LENGTH; i++) {
      t = bytes[x + i]!;
      bytes[x + i] = bytes[y + i]!;
      bytes[y + i] = t;
    }
  }

  private hashOf(slot: number): number {
    return hashAddress(this.bytes, this.addrOffset + slot * this.addrSize, this.addrSize);
  }

  /** The index entry (a position in `index`) that points at `slot`. */
  private indexPosition(slot: number): number {
    const index = this.index;
    let i = this.hashOf(slot) & this.mask;
    while (index[i] !== slot + 1) i = (i + 1) & this.mask;
    return i;
  }

  private insertIndex(slot: number): void {
    const index = this.index;
    let i = this.hashOf(slot) & this.mask;
    while (index[i] !== 0) i = (i + 1) & this.mask;
    index[i] = slot + 1;
  }

  /** Deletes the entry of `slot` by shifting later entries of its probe run back: no tombstones. */
  private deleteIndex(slot: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = this.indexPosition(slot);
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const entry = index[j]!;
      if (entry === 0) break;
      const home = this.hashOf(entry - 1) & mask;
      // The entry may fill the hole unless its home lies cyclically in (hole, j].
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        index[hole] = entry;
        hole = j;
      }
    }
    index[hole] = 0;
  }

  /**
   * Moves everything into a buffer of `capacity` slots (0: none). The index is copied when its size
   * stays, and rebuilt when it changes.
   */
  private allocate(capacity: number): void {
    const size = this.addrSize;
    const entries = indexSize(capacity);
    const entryBytes = capacity > WIDE_CAPACITY ? 4 : 2;
    const indexOffset = capacity * 4;
    const addrOffset = indexOffset + entries * entryBytes;
    const idOffset = addrOffset + capacity * size;
    const buffer = new ArrayBuffer(idOffset + capacity * PEER_ID_LENGTH);
    const seen = new Uint32Array(buffer, 0, capacity);
    const index = entryBytes === 4 ? new Uint32Array(buffer, indexOffset, entries) : new Uint16Array(buffer, indexOffset, entries);
    const bytes = new Uint8Array(buffer);
    const count = this.count;
    if (count > 0) {
      seen.set(this.seen.subarray(0, count));
      bytes.set(this.bytes.subarray(this.addrOffset, this.addrOffset + count * size), addrOffset);
      bytes.set(this.bytes.subarray(this.idOffset, this.idOffset + count * PEER_ID_LENGTH), idOffset);
    }
    if (this.users !== null && capacity > 0) {
      const users = new Uint32Array(capacity);
      users.set(this.users.subarray(0, count));
      this.users = users;
    }
    // Same size, same width (a width changes only with the size): every entry keeps its position.
    const rehash = count > 0 && this.index.length !== entries;
    if (count > 0 && !rehash) index.set(this.index);
    this.seen = seen;
    this.index = index;
    this.bytes = bytes;
    this.addrOffset = addrOffset;
    this.idOffset = idOffset;
    this.capacity = capacity;
    this.mask = entries - 1;
    if (rehash) for (let slot = 0; slot < count; slot++) this.insertIndex(slot);
  }
}

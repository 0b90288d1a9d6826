/**
 * Which client sent a peer_id, from its prefix, as one of a fixed, short list of names: a label set that
 * stays bounded whatever peers send (everything else is "other"). Azureus-style ids ("-qB4650-") carry a
 * two-letter code; mainline ("M7-4-0--") and aria2 ("A2-1-37-0-") write their own. Codes from the
 * conventions every tracker and client documents (BEP 20 and the clients' own sources).
 */

/** Azureus-style codes → names. Several codes may share one name. */
const AZUREUS: ReadonlyArray<[code: string, name: string]> = [
  ['qB', 'qBittorrent'],
  ['TR', 'Transmission'],
  ['UT', 'uTorrent'],
  ['UM', 'uTorrent'],
  ['UW', 'uTorrent'],
  ['BT', 'BitTorrent'],
  ['DE', 'Deluge'],
  ['LT', 'libtorrent'],
  ['lt', 'rTorrent'],
  ['AZ', 'Vuze'],
  ['BI', 'BiglyBT'],
  ['KT', 'KTorrent'],
  ['WW', 'WebTorrent'],
  ['WD', 'WebTorrent'],
  ['BC', 'BitComet'],
  ['FD', 'Free Download Manager'],
  ['PI', 'PicoTorrent'],
  ['FW', 'FrostWire'],
  ['XL', 'Xunlei'],
  ['SD', 'Xunlei'],
  ['BN', 'Baidu'],
  ['TX', 'Tixati'],
  ['FL', 'Folx'],
  ['MG', 'MediaGet'],
  ['tT', 'tTorrent'],
  ['MO', 'MonoTorrent'],
  ['TT', 'TuoTu'],
  ['HL', 'Halite'],
  ['SZ', 'Shareaza'],
  ['RZ', 'RezTorrent'],
  ['IL', 'iLivid'],
  ['LW', 'LimeWire'],
];

const OTHER_NAME = 'other';

/** Every name a peer_id can map to, "other" last: the label values of a per-client metric. */
export const CLIENT_NAMES: readonly string[] = [...new Set([...AZUREUS.map(([, name]) => name), 'BitTorrent', 'aria2']), OTHER_NAME];

const indexOf = (name: string): number => CLIENT_NAMES.indexOf(name);
const OTHER = indexOf(OTHER_NAME);
const MAINLINE = indexOf('BitTorrent');
const ARIA2 = indexOf('aria2');
const DASH = 0x2d;

/** Two code bytes → the name's index: one typed-array read per announce, no string made. */
const AZUREUS_TABLE = new Uint8Array(1 << 16).fill(OTHER);
for (const [code, name] of AZUREUS) AZUREUS_TABLE[(code.charCodeAt(0) << 8) | code.charCodeAt(1)] = indexOf(name);

const isDigit = (byte: number | undefined): boolean => byte !== undefined && byte >= 0x30 && byte <= 0x39;

/** The index in CLIENT_NAMES of the client that made `peerId` (any length; short or odd ids are "other"). */
export function clientIndex(peerId: Uint8Array): number {
  if (peerId.length < 8) return OTHER;
  const first = peerId[0]!;
  if (first === DASH) return peerId[7] === DASH ? AZUREUS_TABLE[(peerId[1]! << 8) | peerId[2]!]! : OTHER;
  // Mainline: "M" version digits separated by dashes, e.g. "M7-4-0--".
  if (first === 0x4d && isDigit(peerId[1]) && peerId[2] === DASH) return MAINLINE;
  // aria2: "A2-" then its version.
  if (first === 0x41 && peerId[1] === 0x32 && peerId[2] === DASH) return ARIA2;
  return OTHER;
}

/** The client's name (CLIENT_NAMES[clientIndex(peerId)]). */
export function clientName(peerId: Uint8Array): string {
  return CLIENT_NAMES[clientIndex(peerId)]!;
}

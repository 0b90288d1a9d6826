/** Port rules of the configuration (private.denied_ports): "6881" or "6881-6889", each port 1 to 65535. */

/** Most entries of one list: a rule list, not a port map. */
export const MAX_PORT_RULES = 1000;

/** [first, last] of "N" or "A-B" (A <= B), or null when the text is neither. */
export function parsePortRange(text: string): [number, number] | null {
  const match = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  if (!match) return null;
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  if (first < 1 || last > 65535 || first > last) return null;
  return [first, last];
}

/** The rule (as written) that covers `port`, or undefined. A linear scan: lists are short, and only private announces look. */
export function coveringRule(rules: ReadonlyArray<{ text: string; first: number; last: number }>, port: number): string | undefined {
  for (const rule of rules) if (port >= rule.first && port <= rule.last) return rule.text;
  return undefined;
}

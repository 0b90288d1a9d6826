/**
 * private.denied_user_agents: each rule a plain text matched without regard to case, anywhere in the
 * User-Agent, or anchored: "^text" at its start, "text$" at its end, "^text$" the whole of it. No
 * regular expressions, so no rule can make matching slow; rules and their count are bounded by the
 * configuration's schema.
 */
export class UserAgentRules {
  private readonly rules: Array<{ rule: string; text: string; start: boolean; end: boolean }>;

  constructor(rules: readonly string[]) {
    this.rules = rules.map((rule) => {
      const start = rule.startsWith('^');
      const end = rule.endsWith('$') && rule.length > (start ? 1 : 0);
      return { rule, text: rule.slice(start ? 1 : 0, end ? -1 : undefined).toLowerCase(), start, end };
    });
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The first rule (as written) that matches `userAgent`, or undefined. */
  match(userAgent: string): string | undefined {
    const ua = userAgent.toLowerCase();
    for (const { rule, text, start, end } of this.rules) {
      const hit = start && end ? ua === text : start ? ua.startsWith(text) : end ? ua.endsWith(text) : ua.includes(text);
      if (hit) return rule;
    }
    return undefined;
  }
}

/** Outside programs the tests need (redis-server, nginx, python3-libtorrent). */
import { execFileSync } from 'node:child_process';

/**
 * Runs each command to see that the tool works. When it does not: under CI=true this throws (CI must
 * install it), otherwise it prints why the tests that need it are skipped and returns that reason.
 */
export function toolMissing(what: string, debianPackage: string, checks: Array<[string, string[]]>): string | null {
  try {
    for (const [command, args] of checks) execFileSync(command, args, { stdio: 'ignore' });
    return null;
  } catch {
    const reason = `${what} is not installed (apt-get install -y ${debianPackage})`;
    if (process.env.CI === 'true') throw new Error(`${reason}: CI must install it (.ci/run does)`);
    console.log(`# SKIP tests that need ${what}: ${reason}`);
    return reason;
  }
}

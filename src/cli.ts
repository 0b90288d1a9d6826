#!/usr/bin/env node
/** The `shoal` command: `shoal [--config PATH]`. */
import { boot } from './boot.js';
import { failStartup, packageVersion, parseArgs } from './cli-args.js';

const USAGE = `usage: shoal [--config PATH]

Runs the BitTorrent tracker. Without --config it uses the defaults (memory driver, HTTP on [::]:6969).
Every key can be overridden from the environment: TRACKER_<KEY>, e.g. TRACKER_HTTP_ADDR=0.0.0.0:8080.

  --config PATH   JSON configuration file (see example.json)
  --help          this text
  --version       the version
`;

async function main(): Promise<void> {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) return void process.stdout.write(USAGE);
    if (args.version) return void process.stdout.write(packageVersion() + '\n');
    await boot({ config: args.config, handleSignals: true });
  } catch (error) {
    failStartup('shoal', error);
  }
}

void main();

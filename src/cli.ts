#!/usr/bin/env node
/** The `shoal` command: `shoal [--config PATH]`. */
import { readFileSync } from 'node:fs';
import { boot } from './boot.js';
import { ConfigError } from './config/config.js';

const USAGE = `usage: shoal [--config PATH]

Runs the BitTorrent tracker. Without --config it uses the defaults (memory driver, HTTP on [::]:6969).
Every key can be overridden from the environment: TRACKER_<KEY>, e.g. TRACKER_HTTP_ADDR=0.0.0.0:8080.

  --config PATH   JSON configuration file (see example.json)
  --help          this text
  --version       the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function parseArgs(argv: string[]): { config?: string; help?: boolean; version?: boolean } {
  const out: { config?: string; help?: boolean; version?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') out.help = true;
    else if (arg === '--version' || arg === '-v') out.version = true;
    else if (arg === '--config' || arg === '-c') {
      const value = argv[++i];
      if (!value) throw new ConfigError('--config', 'needs a file path');
      out.config = value;
    } else if (arg.startsWith('--config=')) out.config = arg.slice('--config='.length);
    else throw new ConfigError(arg, 'unknown argument (see --help)');
  }
  return out;
}

async function main(): Promise<void> {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) return void process.stdout.write(USAGE);
    if (args.version) return void process.stdout.write(version() + '\n');
    await boot({ config: args.config, handleSignals: true });
  } catch (error) {
    if (error instanceof ConfigError) process.stderr.write(`shoal: configuration error: ${error.message}\n`);
    else process.stderr.write(`shoal: cannot start: ${(error as Error).message ?? error}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
}

void main();

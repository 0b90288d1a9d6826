/** Command-line arguments shared by the `shoal` and `shoal-consumer` commands. */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config/config.js';

export interface CliArgs {
  config?: string;
  help?: boolean;
  version?: boolean;
}

export function parseArgs(argv: string[]): CliArgs {
  const out: CliArgs = {};
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

/** Exit code of every binary for a configuration or driver-parameter error (any ConfigError). */
export const CONFIG_ERROR_EXIT = 2;

/**
 * How a binary stops when it cannot start: a ConfigError (the configuration, an environment override,
 * a driver's parameters) with code 2 and the key named, anything else with code 1.
 */
export function failStartup(command: string, error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${command}: configuration error: ${error.message}\n`);
    process.exit(CONFIG_ERROR_EXIT);
  }
  process.stderr.write(`${command}: cannot start: ${(error as Error)?.message ?? error}\n`);
  process.exit(1);
}

/** The package's version, from package.json at the package root (this file runs from dist/src/). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

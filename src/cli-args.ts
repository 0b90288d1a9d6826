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

/** The package's version, from package.json at the package root (this file runs from dist/src/). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

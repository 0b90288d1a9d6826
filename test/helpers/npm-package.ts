/**
 * Packages the tests and the bench use only from outside the project's dependency tree, fetched from the
 * npm registry with npm itself and never with install scripts: webtorrent's browser bundle (its Node
 * dependencies include native WebRTC builds whose install scripts download prebuilt binaries) and
 * bittorrent-tracker's server for the bench. Cached per version under the system's temp folder.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The WebTorrent release whose browser bundle the browser test runs. */
export const WEBTORRENT_VERSION = '3.0.21';

/** `npm pack` a package and unpack it; returns the folder holding its files (package.json, dist/ ...). */
export async function packedPackage(name: string, version: string): Promise<string> {
  const root = join(tmpdir(), `shoal-npm-${name}-${version}`);
  const dir = join(root, 'package');
  if (existsSync(join(dir, 'package.json'))) return dir;
  const staging = `${root}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await run('npm', ['pack', `${name}@${version}`, '--pack-destination', staging, '--silent'], { timeout: 180_000 });
  const tarball = readdirSync(staging).find((file) => file.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack ${name}@${version} produced no tarball`);
  await run('tar', ['xzf', join(staging, tarball), '-C', staging], { timeout: 60_000 });
  rmSync(root, { recursive: true, force: true });
  renameSync(staging, root);
  return dir;
}

/** `npm install --ignore-scripts` a package into a folder of its own; returns its node_modules folder. */
export async function installedPackage(name: string, version: string): Promise<string> {
  const root = join(tmpdir(), `shoal-npm-install-${name}-${version}`);
  const modules = join(root, 'node_modules');
  if (existsSync(join(modules, name, 'package.json'))) return modules;
  const staging = `${root}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save', '--prefix', staging, `${name}@${version}`], { timeout: 300_000 });
  rmSync(root, { recursive: true, force: true });
  renameSync(staging, root);
  return modules;
}

/** Configuration: defaults, a JSON file, environment overrides, validation with errors that name the key. */
import { readFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import type { z } from 'zod';
import { ACROSS_KEYS, ConfigError, configError } from './errors.js';
import { CONFIG_KEYS, ConfigSchema, parseCidr, type Config, type ConfigKey } from './schema.js';

export { ConfigError } from './errors.js';
export { parseCidr, parseListenAddress, type Config, type ListenAddress } from './schema.js';

export type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts.at(-1)!] = value;
}

/** Reads an environment override: JSON for objects, comma-separated lists, plain text otherwise. */
function fromEnvironment(key: ConfigKey, text: string): unknown {
  switch (key.envForm) {
    case 'integer':
      return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
    case 'boolean':
      if (/^(true|1|yes)$/i.test(text)) return true;
      if (/^(false|0|no)$/i.test(text)) return false;
      throw new ConfigError(key.env, 'must be true or false');
    case 'list':
      return text.trim() === '' ? [] : text.split(',').map((s) => s.trim());
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        throw new ConfigError(key.env, 'must be a JSON object');
      }
    case 'text':
      return text;
  }
}

export interface LoadOptions {
  /** A configuration tree (as parsed from JSON), or the path of a JSON file. */
  config?: Tree | string;
  env?: NodeJS.ProcessEnv;
}

function readFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('--config', `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isTree(parsed)) throw new Error('the top level must be an object');
    return parsed;
  } catch (error) {
    throw new ConfigError('--config', `${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function loadConfig(options: LoadOptions = {}): Config {
  return loadConfigTree(options).config;
}

/** A configuration and the tree it was validated from (the file with the environment overrides applied). */
export interface LoadedConfig {
  config: Config;
  tree: Tree;
}

/**
 * loadConfig(), also answering the tree; a reload keeps it to put back the keys that need a restart.
 * On an invalid tree the ConfigError names the first issue, and `issues` lists every one.
 */
export function loadConfigTree(options: LoadOptions = {}): LoadedConfig {
  const tree: Tree = typeof options.config === 'string' ? readFile(options.config) : structuredClone(options.config ?? {});
  const env = options.env ?? {};
  // Environment overrides replace the file's value, and an error in one names the variable.
  const fromEnv = new Map<string, string>();
  for (const key of CONFIG_KEYS) {
    const text = env[key.env];
    if (text === undefined) continue;
    setPath(tree, key.path, fromEnvironment(key, text));
    fromEnv.set(key.path, key.env);
  }
  return validateTree(tree, fromEnv);
}

/** Validates a tree as loadConfigTree() does; `fromEnv` names the variables an error is reported under. */
export function validateTree(tree: Tree, fromEnv: ReadonlyMap<string, string> = new Map()): LoadedConfig {
  const result = ConfigSchema.safeParse(tree);
  if (result.success) return { config: result.data, tree };
  const rename = (path: string, issue: z.core.$ZodIssue): string => {
    const variable = fromEnv.get(path);
    const across = issue.code === 'custom' && issue.params?.across === ACROSS_KEYS.across;
    return variable && !across ? `${variable} (${path})` : path;
  };
  const error = configError(result.error, {
    unknownKey: (key) =>
      key.includes('.') ? 'unknown configuration key (nest it: {"http": {"addr": ...}}, not {"http.addr": ...})' : 'unknown configuration key',
    rename,
  });
  error.issues = result.error.issues.map((issue) => {
    const path = issue.path.filter((p): p is string => typeof p === 'string').join('.');
    if (issue.code === 'unrecognized_keys') return { key: [path, ...issue.keys].filter(Boolean).join('.'), reason: 'unknown configuration key' };
    return { key: rename(path, issue), reason: issue.message };
  });
  throw error;
}

/** The value at a dotted path of a tree (undefined when absent). */
export function getPath(tree: unknown, path: string): unknown {
  let node = tree;
  for (const part of path.split('.')) {
    if (!isTree(node)) return undefined;
    node = node[part];
  }
  return node;
}

/** Sets (or, with undefined, removes) the value at a dotted path of a tree. */
export function putPath(tree: Tree, path: string, value: unknown): void {
  if (value !== undefined) return setPath(tree, path, structuredClone(value));
  const parts = path.split('.');
  const parent = parts.length === 1 ? tree : getPath(tree, parts.slice(0, -1).join('.'));
  if (isTree(parent)) delete parent[parts.at(-1)!];
}

/** The trusted proxy CIDRs as a matcher. */
export function trustedProxyList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text)!;
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

/** The defaults, as example.json shows them. */
export function defaultTree(): Tree {
  const tree: Tree = {};
  for (const key of CONFIG_KEYS) setPath(tree, key.path, structuredClone(key.default));
  return tree;
}

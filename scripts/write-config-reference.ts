/** `npm run docs:config`: writes docs/configuration.md from the configuration and driver schemas. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configurationReference } from './config-reference.js';

const FILE = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
writeFileSync(FILE, configurationReference());
console.log(`wrote ${FILE}`);

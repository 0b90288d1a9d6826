/** `npm run openapi`: writes the management API's OpenAPI document to docs/openapi.json. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../src/admin/openapi.js';

export const OPENAPI_FILE = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));

writeFileSync(OPENAPI_FILE, JSON.stringify(openApiDocument(), null, 2) + '\n');
console.log(`wrote ${OPENAPI_FILE}`);

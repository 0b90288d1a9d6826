export * from './address.js';
export * from './announce.js';
export * from './errors.js';
export * from './percent.js';

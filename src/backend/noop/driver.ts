import type { Backend, BackendDriver } from '../driver.js';

/** Accounting goes nowhere: the right backend for a public tracker. */
export const noopDriver: BackendDriver = {
  wantsRecords: false,
  async open(params) {
    const unknown = Object.keys(params);
    if (unknown.length > 0) throw new Error(`backend.params.${unknown[0]}: the noop backend takes no parameters`);
    const backend: Backend = {
      record() {},
      async flush() {},
      async close() {},
    };
    return backend;
  },
};

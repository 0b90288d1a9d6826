import { pino } from 'pino';
import { memoryDriver } from '../../../src/store/memory/driver.js';
import { conformanceSuite, webTorrentSuite } from '../../../src/testing/index.js';

conformanceSuite('memory', ({ peerTtl }) => memoryDriver.open({}, { peerTtl, logger: pino({ level: 'silent' }) }));
webTorrentSuite('memory', ({ peerTtl }) => memoryDriver.open({}, { peerTtl, logger: pino({ level: 'silent' }) }));

/**
 * What a Redis call past its deadline (command_timeout) is rejected with, on every path: the redis
 * driver's one-timer deadlines over ioredis, a fast lane's, the redis-stream backend's lane writes.
 */
export const timedOut = (): Error => new Error('redis command timed out');

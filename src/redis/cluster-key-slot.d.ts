/** cluster-key-slot ships no types: the one function we use (its README's signature). */
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0..16383) of a key, hash tags honoured. */
  export default function calculateSlot(key: string | Buffer): number;
}

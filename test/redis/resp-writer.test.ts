/** The fast lane's request encoder: every argument as RESP2 bulk strings, whichever way it is written. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RespWriter } from '../../src/redis/resp-writer.js';

/** Whether two batches are the same bytes (assert's diff of large buffers takes minutes). */
const same = (actual: Buffer, wanted: Buffer): boolean => actual.equals(wanted);

/** The RESP2 encoding of a command, by the book (UTF-8 byte lengths). */
function expected(words: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${words.length}\r\n`)];
  for (const word of words) {
    const bytes = typeof word === 'string' ? Buffer.from(word, 'utf8') : word;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

describe('RESP writer', () => {
  const words = [
    'XADD',
    'stream',
    '*',
    '',
    'session',
    'r-1#12#1000:20#1#0',
    'a'.repeat(64), // the longest string tried as ASCII
    'b'.repeat(65), // past it: the general path
    'café', // not ASCII: the general path, UTF-8 bytes counted
    'zz\u007f',
    'abc\u0080',
    '\u{1F600}',
    `${'c'.repeat(63)}é`, // not ASCII in its last character
    Buffer.from([0, 255, 13, 10]),
  ];

  it('encodes ASCII, non-ASCII, long and Buffer arguments as bulk strings of their UTF-8 bytes', () => {
    const writer = new RespWriter(1 << 20, () => assert.fail('not full'));
    writer.command(words);
    assert.deepEqual(writer.take(), expected(words));
  });

  it('a large batch is handed over, a small one copied: neither changes when the next batches are written', () => {
    const writer = new RespWriter(1 << 20, () => assert.fail('not full'));
    const other = ['SET', 'k', 'x'.repeat(50)];
    for (const count of [400, 400, 1, 400, 1, 1]) {
      for (let i = 0; i < count; i++) writer.command(words);
      const taken = writer.take();
      const copy = Buffer.from(taken);
      for (let i = 0; i < 500; i++) writer.command(other);
      assert.ok(same(writer.take(), Buffer.concat(Array.from({ length: 500 }, () => expected(other)))));
      assert.ok(same(taken, copy), `a batch of ${count} commands was overwritten by the next`);
      assert.ok(same(taken, Buffer.concat(Array.from({ length: count }, () => expected(words)))));
    }
  });

  it('a batch written out in the middle of a command (maxBatchBytes reached) loses and repeats no byte', () => {
    const out: Buffer[] = [];
    // Past the buffer's usual size (16 KiB) the writer asks for the batch to be written out.
    const writer: RespWriter = new RespWriter(1000, () => out.push(writer.take()));
    for (let i = 0; i < 400; i++) writer.command(words);
    out.push(writer.take());
    assert.ok(out.length > 3, 'batches were written out');
    assert.ok(same(Buffer.concat(out), Buffer.concat(Array.from({ length: 400 }, () => expected(words)))));
  });
});

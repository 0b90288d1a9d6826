import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DueQueue } from '../../../src/store/memory/due-queue.js';
import { PeerTable, WIDE_CAPACITY } from '../../../src/store/memory/peers.js';

const addrOf = (n: number, size = 6): Buffer => {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(n >>> 0, size - 6);
  b.writeUInt16BE(n % 7, size - 2);
  return b;
};
const idOf = (n: number): Buffer => Buffer.alloc(20, n % 251);

interface Model {
  seeder: boolean;
  tick: number;
  user: number;
  id: number;
}

/** Every peer of the model is found at a slot holding its data, in the range of its kind; nothing else is there. */
function check(table: PeerTable, model: Map<number, Model>, size: number): void {
  assert.equal(table.count, model.size);
  assert.equal(table.seeders, [...model.values()].filter((m) => m.seeder).length);
  for (const [n, m] of model) {
    const slot = table.find(addrOf(n, size));
    assert.ok(slot >= 0 && slot < table.count, `peer ${n} is found`);
    assert.equal(slot < table.seeders, m.seeder, `peer ${n} is in its kind's range`);
    assert.equal(table.lastSeen(slot), m.tick);
    assert.equal(table.userOf(slot), m.user);
    assert.equal(table.bytes[table.idOffset + slot * 20], m.id % 251);
  }
}

describe('memory peer table', () => {
  for (const size of [6, 18]) {
    it(`keeps slots, kinds and the address index in step through random operations (${size}-byte addresses)`, () => {
      const table = new PeerTable(size, 'k', 0);
      const model = new Map<number, Model>();
      let tick = 1;
      for (let step = 0; step < 20_000; step++) {
        const n = Math.floor(Math.random() * 700);
        const roll = Math.random();
        const slot = table.find(addrOf(n, size));
        assert.equal(slot >= 0, model.has(n));
        if (roll < 0.35 && slot >= 0) {
          table.remove(slot);
          model.delete(n);
        } else if (roll < 0.6 || step < 3000) {
          const seeder = Math.random() < 0.4;
          const user = step % 5 === 0 ? 0 : 1 + (step % 9);
          tick++;
          if (slot >= 0) table.refresh(table.setKind(slot, seeder), idOf(step), tick, user);
          else table.add(addrOf(n, size), idOf(step), seeder, tick, user);
          model.set(n, { seeder, tick, user, id: step });
        }
        if (step % 500 === 0) check(table, model, size);
      }
      check(table, model, size);
      for (const n of [...model.keys()]) table.remove(table.find(addrOf(n, size)));
      assert.equal(table.count, 0);
      assert.equal(table.capacity, 4, 'the arrays shrink back as the peers leave');
    });
  }

  it('grows past the 16-bit index into 32-bit entries and back, keeping every peer findable', () => {
    const table = new PeerTable(6, 'k', 0);
    const model = new Map<number, Model>();
    const peers = WIDE_CAPACITY * 2 + 1000;
    for (let n = 0; n < peers; n++) {
      table.add(addrOf(n), idOf(n), n % 3 === 0, n, 1 + (n % 5));
      model.set(n, { seeder: n % 3 === 0, tick: n, user: 1 + (n % 5), id: n });
    }
    assert.ok(table.capacity > WIDE_CAPACITY * 2);
    check(table, model, 6);
    // Removing all but a few crosses back below the wide capacity, one shrink at a time.
    for (let n = 0; n < peers - 50; n++) {
      table.remove(table.find(addrOf(n)));
      model.delete(n);
      if (n % 20_011 === 0) check(table, model, 6);
    }
    assert.ok(table.capacity < WIDE_CAPACITY);
    check(table, model, 6);
  });

  it('expires in bounded steps, and its oldest tick stays a lower bound through moves between the steps', () => {
    for (let trial = 0; trial < 30; trial++) {
      const table = new PeerTable(6, 'k', 0);
      const model = new Map<number, Model>();
      let tick = 0;
      const announce = (n: number, seeder: boolean): void => {
        const slot = table.find(addrOf(n));
        if (slot >= 0) table.refresh(table.setKind(slot, seeder), idOf(n), tick, 0);
        else table.add(addrOf(n), idOf(n), seeder, tick, 0);
        model.set(n, { seeder, tick, user: 0, id: n });
      };
      for (let n = 0; n < 400; n++) {
        if (n % 40 === 0) tick++;
        announce(n, Math.random() < 0.5);
      }
      const cutoff = 5;
      tick = 20;
      // A pass in steps of 7 slots, with announces that move peers about between the steps.
      let steps = 0;
      do {
        const examined = table.expire(cutoff, tick, 7, 1000);
        assert.ok(examined <= 7);
        steps++;
        for (let k = 0; k < 3; k++) {
          const n = Math.floor(Math.random() * 500);
          if (Math.random() < 0.3 && table.find(addrOf(n)) >= 0) {
            table.remove(table.find(addrOf(n)));
            model.delete(n);
          } else {
            // Kind changes and joins move other, unexamined peers past the cursor.
            tick += Math.random() < 0.5 ? 0 : 1;
            announce(n, Math.random() < 0.5);
          }
        }
      } while (table.scanning);
      assert.ok(steps > 10, 'the pass took many steps');
      for (const [n, m] of model) if (m.tick < cutoff && table.find(addrOf(n)) < 0) model.delete(n);
      check(table, model, 6);
      const oldest = Math.min(...[...model.values()].map((m) => m.tick));
      assert.ok(table.due <= oldest, `due ${table.due} is at most the oldest peer's tick ${oldest}`);
      // Whatever a step missed because it moved, the next pass (the table being due again) removes.
      while (table.due < cutoff) {
        do table.expire(cutoff, tick, 7, 1000);
        while (table.scanning);
      }
      for (let slot = 0; slot < table.count; slot++) assert.ok(table.lastSeen(slot) >= cutoff);
    }
  });

  it('orders tables by their oldest peer in the expiry queue, removals included', () => {
    const queue = new DueQueue<{ due: number; queueIndex: number }>();
    const items = Array.from({ length: 300 }, () => ({ due: Math.floor(Math.random() * 1000), queueIndex: -1 }));
    for (const item of items) queue.push(item);
    for (const item of items.filter((_, i) => i % 3 === 0)) queue.remove(item);
    for (const item of items.filter((_, i) => i % 3 === 1)) {
      item.due = Math.floor(Math.random() * 1000);
      queue.update(item);
    }
    const out: number[] = [];
    while (queue.size > 0) {
      const top = queue.peek()!;
      out.push(top.due);
      queue.remove(top);
    }
    assert.equal(out.length, 200);
    assert.deepEqual(
      out,
      [...out].sort((a, b) => a - b),
    );
  });
});

// The watcher's schedule, on a clock of the test's and with a scanner and
// events that only say what was asked of them: when it scans all of /proc,
// when it trusts the model events keep and reads only what they named, how
// long it listens with nobody subscribed, and when it gives up on events.
import assert from 'node:assert/strict';
import { beforeEach, it } from 'node:test';
import type { Snapshot } from '../../helper/common/protocol';
import type { OnEvents } from '../../helper/daemon/discovery/events';
import type { Model } from '../../helper/daemon/discovery/snapshot';
import { Clock, EventSource, ScanSource, Timer, Watcher } from '../../helper/daemon/discovery/watch';

/** Time that moves only when the test says, and the timers due meanwhile, in order. */
class TestClock implements Clock {
  t = 1_000_000;
  cpu = 0;
  private timers: { at: number; fn: () => void }[] = [];

  now(): number {
    return this.t;
  }
  after(fn: () => void, ms: number): Timer {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return timer;
  }
  cancel(timer: Timer | undefined): void {
    this.timers = this.timers.filter((t) => t !== timer);
  }
  cpuMs(): number {
    return this.cpu;
  }
  /** Moves MS on, running each timer as its time comes, and what it awaits. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.cancel(next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

/** Every promise that can resolve now has. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Says what was asked of it; a full scan takes scanMs and cpuMs (as the model says), an update updateMs. */
class TestScanner implements ScanSource {
  calls: string[] = [];
  scanMs = 100;
  cpuMs = 0;
  updateMs = 1;
  /** While set, a full scan ends only once it resolves. */
  gate: Promise<void> | undefined;
  watcher!: Watcher;

  constructor(private readonly clock: TestClock) {}

  /** Why each full scan was asked for, as nsxd's log says it. */
  whys: string[] = [];

  async scan(why = 'request'): Promise<Model> {
    this.calls.push('scan');
    this.whys.push(why);
    this.clock.cpu += this.cpuMs;
    await this.gate;
    return this.model(this.scanMs);
  }
  update(pids: Iterable<number>): Promise<Model> {
    this.calls.push(`update ${[...pids].join(',')}`);
    return Promise.resolve(this.model(this.updateMs));
  }
  refreshContainers(): Promise<Model | undefined> {
    return Promise.resolve(undefined);
  }
  get scans(): number {
    return this.calls.filter((c) => c === 'scan').length;
  }
  /** As nsxd wires it: every model the scanner makes reaches the watcher. */
  private model(scanMs: number): Model {
    const snapshot: Snapshot = { namespaces: [], processes: [], containers: [], scanMs };
    this.watcher.scanned(snapshot);
    return { snapshot } as unknown as Model;
  }
}

/** The kernel's process events, sent when the test says; `available` false as where the connector is missing. */
class TestEvents implements EventSource {
  live = false;
  available = true;
  private onEvents: OnEvents | undefined;

  start(onEvents: OnEvents): boolean {
    if (!this.available) return false;
    this.live = true;
    this.onEvents = onEvents;
    return true;
  }
  stop(): void {
    this.live = false;
  }
  send(pids: number[], lost = false): void {
    this.onEvents!(pids, lost);
  }
}

let clock: TestClock;
let scanner: TestScanner;
let events: TestEvents;
let watcher: Watcher;
const listener = () => undefined;

beforeEach(() => {
  clock = new TestClock();
  scanner = new TestScanner(clock);
  events = new TestEvents();
  watcher = new Watcher(scanner, events, clock);
  scanner.watcher = watcher;
});

it('scans all of /proc for the first list, then trusts the model and reads again only what events named', async () => {
  await watcher.current(false);
  assert.deepEqual(scanner.calls, ['scan']);
  assert.ok(events.live, 'events listened to from before the scan');
  await clock.advance(5000);
  await watcher.current(false);
  assert.deepEqual(scanner.calls, ['scan'], 'nothing changed: the model as it is');
  events.send([42, 43]);
  await watcher.current(false);
  assert.deepEqual(scanner.calls, ['scan', 'update 42,43']);
});

it('with events, rescans for a subscriber every 30 s, or as seldom as keeps them to 0.2% of a core', async () => {
  await watcher.subscribe(listener, 2000);
  await clock.advance(29_999);
  assert.equal(scanner.scans, 1);
  await clock.advance(1);
  assert.equal(scanner.scans, 2, 'the slow rescan, for what events do not show');
  scanner.cpuMs = 100; // from the next scan on: 100 ms / 0.002 = 50 s
  await clock.advance(30_000);
  assert.equal(scanner.scans, 3);
  await clock.advance(49_999);
  assert.equal(scanner.scans, 3);
  await clock.advance(1);
  assert.equal(scanner.scans, 4);
  assert.deepEqual(scanner.whys, ['list', 'schedule', 'schedule', 'schedule'], 'each says why it ran');
});

it('without events, rescans at the interval the subscriber asked, but in at most a fifth of the time', async () => {
  events.available = false;
  await watcher.subscribe(listener, 2000);
  await clock.advance(1999);
  assert.equal(scanner.scans, 1);
  await clock.advance(1);
  assert.equal(scanner.scans, 2);
  scanner.scanMs = 1000; // 5 times 1 s: more than the 2 s asked
  await clock.advance(2000);
  assert.equal(scanner.scans, 3);
  await clock.advance(4999);
  assert.equal(scanner.scans, 3);
  await clock.advance(1);
  assert.equal(scanner.scans, 4);
  await watcher.current(false);
  assert.equal(scanner.scans, 5, 'a list scans too: no events keep the model');
});

it("reads a subscriber's evented processes after 25 ms, and holds updates to a fifth of the time", async () => {
  await watcher.subscribe(listener, 2000);
  scanner.updateMs = 500; // twice the burst of 250 ms
  events.send([7]);
  events.send([8]);
  await clock.advance(24);
  assert.deepEqual(scanner.calls, ['scan']);
  await clock.advance(1);
  assert.deepEqual(scanner.calls, ['scan', 'update 7,8'], 'one update for the events that came together');
  events.send([9]);
  // 250 ms of credit less 500 spent: 250 ms owed, earned back at 1 ms each 5 ms.
  await clock.advance(1249);
  assert.equal(scanner.calls.length, 2);
  await clock.advance(1);
  assert.deepEqual(scanner.calls.at(-1), 'update 9');
});

it('after events were lost, scans at the next list', async () => {
  await watcher.current(false);
  events.send([], true);
  await watcher.current(false);
  assert.equal(scanner.scans, 2, 'no list of pids is the whole story');
});

it('does not trust a scan during which events were lost', async () => {
  let open!: () => void;
  scanner.gate = new Promise((resolve) => (open = resolve));
  const listing = watcher.current(false);
  await settle();
  events.send([], true);
  open();
  await listing;
  scanner.gate = undefined;
  await watcher.current(false);
  assert.equal(scanner.scans, 2);
});

it('after events were lost, scans for a subscriber as soon as a fifth of the time allows', async () => {
  await watcher.subscribe(listener, 2000);
  events.send([], true);
  // The last scan took 100 ms: the next may start 4 times that after it ended.
  await clock.advance(399);
  assert.equal(scanner.scans, 1);
  await clock.advance(1);
  assert.equal(scanner.scans, 2);
  await clock.advance(1000);
  events.send([], true);
  await clock.advance(0);
  assert.equal(scanner.scans, 3, 'long enough after the last: at once');
  assert.deepEqual(scanner.whys, ['list', 'lost', 'lost'], 'a scan in a quiet spell can be told from the schedule');
});

it('gives a list asked to rescan a scan of its own only in a fifth of the time, else the model', async () => {
  await watcher.current(false);
  await clock.advance(399);
  await watcher.current(true);
  assert.equal(scanner.scans, 1, 'too soon after the last: the model events keep');
  await clock.advance(1);
  await watcher.current(true);
  assert.equal(scanner.scans, 2);
});

it('listens to events for 10 minutes after the last list or subscriber, then gives them up', async () => {
  await watcher.current(false);
  await clock.advance(10 * 60_000 - 1);
  assert.ok(events.live);
  await clock.advance(1);
  assert.ok(!events.live, 'nobody asked for 10 minutes');
  await watcher.current(false);
  assert.equal(scanner.scans, 2, 'without events meanwhile, the model is not the truth');

  await watcher.subscribe(listener, 2000);
  await clock.advance(20 * 60_000);
  assert.ok(events.live, 'a subscriber keeps them');
  watcher.unsubscribe(listener);
  await clock.advance(10 * 60_000);
  assert.ok(!events.live);
});

it('with nobody subscribed, notes at most 4096 pids: past them the next list scans all of /proc', async () => {
  await watcher.current(false);
  events.send(Array.from({ length: 4096 }, (_, i) => i + 1));
  await watcher.current(false);
  assert.deepEqual(
    scanner.calls.slice(1).map((c) => c.split(' ')[0]),
    ['update'],
  );
  events.send(Array.from({ length: 4097 }, (_, i) => i + 1));
  await watcher.current(false);
  assert.deepEqual(scanner.calls.slice(2), ['scan']);
});

it('scans at once for a subscriber when nsxd itself changed something (poke)', async () => {
  await watcher.subscribe(listener, 2000);
  watcher.poke();
  await clock.advance(0);
  assert.equal(scanner.scans, 2);
  assert.deepEqual(scanner.whys, ['list', 'poke']);
});

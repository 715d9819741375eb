// nsxd's memory: how V8 and glibc grow it, set once at start, and a full
// collection once a big answer is let go.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as libc from '../../native/libc';

// Memory, as V8 grows it for a program that allocates much and keeps much
// (a scan of 20,000 processes keeps its model): it doubles the young
// generation whenever much of it survives, up to 16 MB a semi-space, and lets
// the old generation grow by half or more before it collects it. Held to the
// young generation's first size and to a tenth more per collection, nsxd's
// peak at 7,000 processes is a quarter lower. Both are flags V8 reads when it
// grows, not at start: set here, they need no node option at every launch.
setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--heap-growing-percent=10');
// A young generation that small is scavenged in well under a millisecond by one thread. V8 would spread each
// scavenge over helper threads, which a full scan finds busy with libnsxscan's reads on both CPUs: waiting for
// them, its scavenges took 212 ms of a scan at 20,000 processes, against 90 ms on the thread itself.
setFlagsFromString('--no-parallel-scavenge');
// When a program goes quiet, V8's memory reducer collects the whole heap, and again a few seconds later if the
// first freed much: at 20,000 processes, after a burst of process events, those took 110-130 ms of an idle nsxd's
// next 40 s (0.3% of a core, where the aim for all of idle is 0.5%). The first one gives back what they both do
// (75 MB, against 81 MB with none).
setFlagsFromString('--memory-reducer-single-gc');
// Outside V8's heap, a big answer (a list of 20,000 processes is 4.5 MB of JSON)
// becomes a Buffer that malloc gives. glibc maps one that big on its own and
// unmaps it when freed, but raises that threshold to the size of each such
// block it frees: from the second answer on, they come from the heap, whose
// freed pages it keeps (12 MB at 20,000 processes after the scans). Fixed at
// its first value, the threshold stays where it was.
libc.mallopt(libc.M_MMAP_THRESHOLD, 128 * 1024);
libc.mallopt(libc.M_TRIM_THRESHOLD, 128 * 1024);

// V8 collects when a program allocates, never because it is idle: after a
// list of 20,000 processes (its JSON as a string and as bytes, and the model
// it replaced), a quiet nsxd keeps 20 MB of garbage until its next burst of
// work. Node has no call for a collection but V8's own gc(), given to a new
// context once the flag is set (a context made before has none).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * A full collection, for a caller that has just let go of megabytes (the
 * last list's JSON): about 70 ms at 20,000 processes, so once for a burst
 * of answers, not for each.
 */
export function collectGarbage(): void {
  gc();
}

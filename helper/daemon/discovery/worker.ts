// A scan worker: reads /proc for the pids it is given, off nsxd's event loop.
import { parentPort } from 'node:worker_threads';
import { forget, scanProcesses } from './procfs';

parentPort!.on('message', (msg: { id: number; pids: number[] }) => {
  parentPort!.postMessage({ id: msg.id, scan: scanProcesses(msg.pids) });
  forget(msg.pids); // every process this worker will ever be given is one of these
});

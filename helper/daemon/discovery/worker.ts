// A scan worker: reads /proc for the pids it is given, off nsxd's event loop.
import { parentPort } from 'node:worker_threads';
import { scanProcesses } from './procfs';

parentPort!.on('message', (msg: { id: number; pids: number[] }) => {
  parentPort!.postMessage({ id: msg.id, scan: scanProcesses(msg.pids) });
});

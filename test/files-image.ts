// The image the files tests and bench look into: one static binary
// (busybox, as /bin/busybox with no applet links: no sh, no ls, no stat) and
// the files the tests need, owners and modes included, made here and
// imported into podman as a rootfs tarball.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir } from './support';

export const FILES_IMAGE = 'localhost/nsx-test-files:1';

/** The container's own /etc/shadow: the tests tell it from the host's. */
export const CONTAINER_SHADOW = 'f23 container shadow\n';

export function importFilesImage(): void {
  if (spawnSync('podman', ['image', 'inspect', FILES_IMAGE], { stdio: 'ignore' }).status === 0) return;
  const root = mkdtempSync(join(tmpdir(), 'f23-rootfs-'));
  try {
    for (const d of ['bin', 'etc', 'srv', 'tmp', 'proc', 'sys', 'dev', 'data']) mkdirSync(join(root, d));
    chmodSync(join(root, 'tmp'), 0o1777);
    chmodSync(join(root, 'srv'), 0o1777);
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    writeFileSync(join(root, 'etc/hostname'), 'f23-inside\n');
    writeFileSync(join(root, 'etc/shadow'), CONTAINER_SHADOW, { mode: 0o600 });
    writeFileSync(join(root, 'etc/app.conf'), 'setting=1\n', { mode: 0o640 });
    chownSync(join(root, 'etc/app.conf'), 1234, 1234);
    symlinkSync('/etc', join(root, 'abs'));
    symlinkSync('../../../../../../etc', join(root, 'dots'));
    symlinkSync('/proc/1/root', join(root, 'hostroot'));
    for (let i = 0; i < 1000; i++) writeFileSync(join(root, 'data', `entry-${String(i).padStart(4, '0')}`), `${i}\n`);
    writeFileSync(join(root, 'data/ten-mb'), Buffer.alloc(10 * 1024 * 1024, 'x'));
    const tar = spawnSync('tar', ['-C', root, '--numeric-owner', '-c', '.'], { maxBuffer: 256 * 1024 * 1024 });
    execFileSync('podman', ['import', '-', FILES_IMAGE], { input: tar.stdout, stdio: ['pipe', 'ignore', 'inherit'] });
  } finally {
    removeDir(root);
  }
}

/** A container of that image, sleeping, with podman's procfs; returns its first process. */
export function runFilesContainer(name: string, args: string[] = []): number {
  spawnSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
  execFileSync('podman', [
    '--runtime',
    'runc',
    'run',
    '-d',
    '--name',
    name,
    '--ulimit',
    'nofile=1024:1024',
    '--ulimit',
    'nproc=4096:4096',
    '--network',
    'none',
    ...args,
    FILES_IMAGE,
    '/bin/busybox',
    'sleep',
    '86400',
  ]);
  return Number(execFileSync('podman', ['inspect', '--format', '{{.State.Pid}}', name], { encoding: 'utf8' }).trim());
}

export function removeFilesContainer(name: string): void {
  spawnSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
}

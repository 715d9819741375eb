// The *at calls a full scan reads /proc with, which Node's fs does not have:
// a process's files read relative to one fd of its /proc/PID (a shorter path
// walk per read, and a pid reused meanwhile is another directory: every read
// through the old fd fails), into the caller's Buffer. A scan makes twenty of
// these calls a process, most of them on processes that may have exited, so
// they answer as the kernel does, -1 on failure, not with an exception, and
// make no string. Every fd is close-on-exec. This module imports nothing of ours.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

const openatRaw = libc.func('int openat(int dirfd, const char *path, int flags)');
const readlinkatRaw = libc.func('intptr_t readlinkat(int dirfd, const char *path, uint8_t *buf, size_t len)');
const readRaw = libc.func('intptr_t read(int fd, uint8_t *buf, size_t len)');
const statxRaw = libc.func('int statx(int dirfd, const char *path, int flags, unsigned int mask, uint8_t *buf)');
const getdents64Raw = libc.func('intptr_t getdents64(int fd, uint8_t *buf, size_t len)');
const closeRaw = libc.func('int close(int fd)');

/** A path relative to the working directory, or absolute: the *at calls as their plain forms. */
export const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const AT_SYMLINK_NOFOLLOW = 0x100;
// <linux/stat.h>: which fields statx fills, and where they are in struct statx (the same on every architecture).
const STATX_UID = 0x8;
const STATX_SIZE = 0x200;
const STX_UID = 20;
const STX_SIZE = 40;

/** A directory opened for reading, relative to DIR (or absolute); -1 if it cannot be (gone, or not a directory). */
export function openDir(path: string, dir = AT_FDCWD): number {
  return openatRaw(dir, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/** A file opened for reading, relative to DIR; -1 if it cannot be. */
export function openFile(dir: number, name: string): number {
  return openatRaw(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/** Up to LENGTH bytes from FD into BUF at OFFSET: how many (0 at the end), or -1. */
export function read(fd: number, buf: Buffer, offset: number, length: number): number {
  return Number(readRaw(fd, offset === 0 ? buf : buf.subarray(offset), length));
}

/** The target of the link NAME in DIR into BUF: its length (BUF's length if it was cut), or -1. */
export function readlinkAt(dir: number, name: string, buf: Buffer): number {
  return Number(readlinkatRaw(dir, name, buf, buf.length));
}

/** statx's answer for FD itself. */
const statxBuf = Buffer.alloc(256);

/** The owner of the open file FD, or -1. */
export function ownerOf(fd: number): number {
  return statxRaw(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_UID, statxBuf) < 0
    ? -1
    : statxBuf.readUInt32LE(STX_UID);
}

/** The size of the open file FD (of /proc/PID/fd, its number of fds since Linux 6.2; 0 before), or -1. */
export function sizeOf(fd: number): number {
  return statxRaw(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_SIZE, statxBuf) < 0
    ? -1
    : Number(statxBuf.readBigUInt64LE(STX_SIZE));
}

/**
 * The next entries of the directory FD into BUF as struct linux_dirent64
 * (d_ino u64, d_off s64, d_reclen u16, d_type u8, then the name and a 0):
 * how many bytes, 0 at the end, or -1.
 */
export function getdents64(fd: number, buf: Buffer): number {
  return Number(getdents64Raw(fd, buf, buf.length));
}

/** Where a linux_dirent64's record length and name are. */
export const DIRENT_RECLEN = 16;
export const DIRENT_NAME = 19;

export function close(fd: number): void {
  closeRaw(fd);
}

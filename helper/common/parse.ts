// The checks every message parse in protocol.ts is made of: each takes what
// a client sent, unknown, and returns it typed or throws InvalidParams with a
// sentence that says what was expected.
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc';

export function invalid(message: string): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidParams, message);
}

export function object(value: unknown, what = 'params'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${what} must be an object`);
  return value as Record<string, unknown>;
}

export function pid(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > 0x3fffffff)
    throw invalid(`not a pid: ${JSON.stringify(value)}`);
  return value as number;
}

export function inode(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw invalid(`not an inode number: ${JSON.stringify(value)}`);
  return value as number;
}

export function int(value: unknown, what: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max)
    throw invalid(`${what} must be an integer from ${min} to ${max}`);
  return value as number;
}

/** A string that can go into argv or the environment: no NUL, bounded. */
export function text(value: unknown, what: string, max = 4096): string {
  if (typeof value !== 'string' || value.includes('\0') || Buffer.byteLength(value) > max)
    throw invalid(`${what} must be a string of at most ${max} bytes without NUL`);
  return value;
}

export function bool(value: unknown, what: string): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw invalid(`${what} must be true or false`);
  return value === true;
}

// File-system errors in words: the path and the real cause (read-only file system, no space left,
// permission denied…) instead of a bare errno. Node's own messages name the syscall ("ENOENT: …,
// mkdir '/x/y'") and sometimes the wrong cause: a recursive mkdir under a read-only mount reports
// ENOENT for the missing folder, and a write to a full disk through a descriptor names no file at
// all. Every writer in kep goes through `fileSystemError` (directly, or via writeFileAtomic and
// ensureDir), and the command line's last-resort handler formats any stray errno error with it.
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const CAUSES: Record<string, string> = {
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'not a folder',
  EISDIR: 'is a folder, not a file',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error (failing disk or network file system?)',
  ELOOP: 'too many levels of symbolic links',
  EBUSY: 'busy',
  EXDEV: 'cannot rename across file systems',
  EFBIG: 'file too large for the file system',
};

/** An errno error restated with the path, the action and the real cause; `code` is kept. */
export class FileSystemError extends Error {
  constructor(
    readonly path: string,
    readonly action: string,
    readonly code: string,
    cause?: unknown,
    /** The existing ancestor that is at fault, when it is not `path` itself. */
    readonly where?: string,
  ) {
    super(`${path}: cannot ${action}: ${where ? `${where}: ` : ''}${CAUSES[code] ?? code} (${code})`, {
      cause,
    });
    this.name = 'FileSystemError';
  }
}

export function isErrnoError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && 'errno' in err;
}

/** The nearest existing ancestor of `path` (itself if it exists). */
function existingAncestor(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/**
 * Why creating something at `path` failed, when the error itself may mislead: ENOENT from a
 * recursive mkdir or an open is checked against the nearest existing ancestor (is it a folder, and
 * writable?). Returns the ancestor and its real error code, or undefined when nothing is wrong there.
 */
function realCause(path: string): { path: string; code: string } | undefined {
  const ancestor = existingAncestor(dirname(path));
  try {
    if (!statSync(ancestor).isDirectory()) return { path: ancestor, code: 'ENOTDIR' };
    accessSync(ancestor, constants.W_OK);
  } catch (err) {
    if (isErrnoError(err) && err.code) return { path: ancestor, code: err.code };
  }
  return undefined;
}

/**
 * Restates a file-system error for people. `path` is what the caller was working on (used when the
 * error names none, as writes through a descriptor do); `action` is what it was doing ("write",
 * "create the folder"). Errors that are not errno errors are returned unchanged.
 */
export function fileSystemError(err: unknown, path: string, action: string): unknown {
  if (err instanceof FileSystemError || !isErrnoError(err) || !err.code) return err;
  const target = err.path ?? path;
  // mkdir -p through a file: Node reports EEXIST for the file; the trouble is that it is no folder.
  if (err.code === 'EEXIST') {
    let folder = true;
    try {
      folder = statSync(target).isDirectory();
    } catch {
      // Gone again: report the error as it came.
    }
    if (!folder)
      return new FileSystemError(path, action, 'ENOTDIR', err, target !== path ? target : undefined);
  }
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
    const real = realCause(target);
    if (real) return new FileSystemError(target, action, real.code, err, real.path);
  }
  return new FileSystemError(target, action, err.code, err);
}

/** What to say about a syscall when a stray errno error reaches the command line's handler. */
const SYSCALL_ACTIONS: Record<string, string> = {
  mkdir: 'create the folder',
  open: 'open',
  read: 'read',
  write: 'write',
  rename: 'rename',
  unlink: 'remove',
  rmdir: 'remove',
  stat: 'read the file information of',
  lstat: 'read the file information of',
  scandir: 'list',
  opendir: 'list',
  copyfile: 'copy',
  fsync: 'write',
  access: 'access',
};

/** The message of any error, with errno errors restated (path, action, cause). */
export function describeError(err: unknown): string {
  if (isErrnoError(err) && err.code && err.syscall && !(err instanceof FileSystemError)) {
    const action = SYSCALL_ACTIONS[err.syscall] ?? err.syscall;
    const restated = fileSystemError(err, err.path ?? '(unnamed file)', action);
    return restated instanceof Error ? restated.message : String(restated);
  }
  return err instanceof Error ? err.message : String(err);
}

/** mkdir -p with errors that say why (read-only, no permission, a file in the way). */
export function ensureDir(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    throw fileSystemError(err, path, 'create the folder');
  }
}

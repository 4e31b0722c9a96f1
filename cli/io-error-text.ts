// A file-system error worded as b3sum (Rust's std::io::Error) words it: "No such file or
// directory (os error 2)", so `strata hash` output can match b3sum's line for line.
import { constants } from "node:os";

const STRERROR: Readonly<Record<string, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EBUSY: "Device or resource busy",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENFILE: "Too many open files in system",
  EMFILE: "Too many open files",
  ETXTBSY: "Text file busy",
  EFBIG: "File too large",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  EOVERFLOW: "Value too large for defined data type",
};

function errnoOf(code: string): number | undefined {
  return Object.hasOwn(constants.errno, code) ? Reflect.get(constants.errno, code) : undefined;
}

export function ioErrorText(error: unknown): string {
  const code = typeof error === "object" && error !== null ? Reflect.get(error, "code") : undefined;
  if (typeof code === "string" && Object.hasOwn(STRERROR, code)) {
    const errno = errnoOf(code);
    return `${STRERROR[code]}${typeof errno === "number" ? ` (os error ${errno})` : ""}`;
  }
  return error instanceof Error ? error.message : String(error);
}

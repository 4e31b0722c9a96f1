// The record fields push writes and pull reads: `artefact` carries the ArtefactRef, `file_name`
// the pushed file's base name (so a pull into a directory can restore it).
export const ARTEFACT_FIELD = "artefact";
export const FILE_NAME_FIELD = "file_name";

/** A name that is one path component: no separator, not `.` or `..`, no NUL. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}

/**
 * A minimal ustar writer/reader for the Engine's archive endpoints (`PUT/GET /containers/{id}/archive`):
 * regular files only, which is all a config-only rollout writes.
 */

export interface TarFile {
  readonly name: string
  readonly content: Buffer
  readonly mode?: number
  readonly uid?: number
  readonly gid?: number
  readonly mtime?: number
}

const octal = (n: number, width: number): string => `${n.toString(8).padStart(width - 1, "0")}\0`

const header = (f: TarFile): Buffer => {
  const h = Buffer.alloc(512, 0)
  let name = f.name
  let prefix = ""
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 154)
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar: path too long: ${f.name}`)
    prefix = name.slice(0, cut)
    name = name.slice(cut + 1)
  }
  h.write(name, 0, 100, "utf8")
  h.write(octal(f.mode ?? 0o644, 8), 100, 8, "ascii")
  h.write(octal(f.uid ?? 0, 8), 108, 8, "ascii")
  h.write(octal(f.gid ?? 0, 8), 116, 8, "ascii")
  h.write(octal(f.content.length, 12), 124, 12, "ascii")
  h.write(octal(Math.floor(f.mtime ?? Date.now() / 1000), 12), 136, 12, "ascii")
  h.fill(" ", 148, 156) // checksum placeholder
  h.write("0", 156, 1, "ascii") // regular file
  h.write("ustar\0", 257, 6, "ascii")
  h.write("00", 263, 2, "ascii")
  h.write(prefix, 345, 155, "utf8")
  let sum = 0
  for (const b of h) sum += b
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii")
  return h
}

export const tarPack = (files: ReadonlyArray<TarFile>): Buffer => {
  const parts: Array<Buffer> = []
  for (const f of files) {
    parts.push(header(f), f.content)
    const pad = (512 - (f.content.length % 512)) % 512
    if (pad) parts.push(Buffer.alloc(pad, 0))
  }
  parts.push(Buffer.alloc(1024, 0))
  return Buffer.concat(parts)
}

export interface TarEntry {
  readonly content: Buffer
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

/** Regular files of a tar stream (the Engine's GET archive), by name. */
export const tarUnpack = (buf: Buffer): Map<string, TarEntry> => {
  const out = new Map<string, TarEntry>()
  let off = 0
  let longName: string | undefined
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512)
    if (h.every((b) => b === 0)) break
    const str = (s: number, l: number) => h.toString("utf8", s, s + l).replace(/\0.*$/s, "")
    const num = (s: number, l: number) => Number.parseInt(str(s, l).trim() || "0", 8)
    const size = num(124, 12)
    const type = str(156, 1)
    const prefix = str(345, 155)
    const name = longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100))
    off += 512
    longName = undefined
    if (type === "L") longName = buf.toString("utf8", off, off + size).replace(/\0.*$/s, "")
    else if (type === "0" || type === "") {
      out.set(name, {
        content: Buffer.from(buf.subarray(off, off + size)),
        mode: num(100, 8),
        uid: num(108, 8),
        gid: num(116, 8)
      })
    }
    off += Math.ceil(size / 512) * 512
  }
  return out
}

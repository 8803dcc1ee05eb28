import { gunzipSync } from "node:zlib"

/**
 * A minimal reader for (gzipped) tar archives, enough for OPA bundles: regular files from ustar,
 * GNU (`L` long names) and PAX (`x` / `g` headers with `path=`) archives. Throws on a malformed
 * archive. Returned paths are relative: no leading `/` or `./`.
 */
export const readTar = (tar: Uint8Array): Map<string, Uint8Array> => {
  const files = new Map<string, Uint8Array>()
  const decoder = new TextDecoder()
  const str = (from: number, len: number) => {
    const bytes = tar.subarray(from, from + len)
    const nul = bytes.indexOf(0)
    return decoder.decode(nul === -1 ? bytes : bytes.subarray(0, nul))
  }
  const octal = (from: number, len: number) => {
    const s = str(from, len).trim()
    if (s === "") return 0
    if (!/^[0-7]+$/.test(s)) throw new Error(`tar: invalid numeric field ${JSON.stringify(s)} at offset ${from}`)
    return Number.parseInt(s, 8)
  }
  let offset = 0
  let longName: string | undefined
  let paxPath: string | undefined
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512)
    if (header.every((b) => b === 0)) break // end-of-archive marker
    let checksum = 0
    for (let i = 0; i < 512; i++) checksum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0)
    if (checksum !== octal(offset + 148, 8)) throw new Error(`tar: bad header checksum at offset ${offset}`)
    const size = octal(offset + 124, 12)
    const type = String.fromCharCode(header[156] ?? 0)
    const magic = str(offset + 257, 6)
    const prefix = magic.startsWith("ustar") ? str(offset + 345, 155) : ""
    const baseName = str(offset, 100)
    const headerName = prefix !== "" ? `${prefix}/${baseName}` : baseName
    const dataStart = offset + 512
    if (dataStart + size > tar.length) throw new Error(`tar: truncated entry at offset ${offset}`)
    const data = tar.subarray(dataStart, dataStart + size)
    offset = dataStart + Math.ceil(size / 512) * 512
    if (type === "L") {
      longName = decoder.decode(data).replace(/\0+$/, "")
      continue
    }
    if (type === "x" || type === "g") {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(decoder.decode(data))?.[1]
      if (type === "x" && path !== undefined) paxPath = path
      continue
    }
    const name = paxPath ?? longName ?? headerName
    longName = undefined
    paxPath = undefined
    if (type === "0" || type === "\0" || type === "7") {
      files.set(name.replace(/^(\.?\/)+/, ""), data)
    }
  }
  return files
}

/** Reads a `.tar.gz` (or plain `.tar`, detected by the gzip magic bytes). */
export const readTarGz = (bytes: Uint8Array): Map<string, Uint8Array> =>
  readTar(bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes)

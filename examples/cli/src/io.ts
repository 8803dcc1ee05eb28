import * as path from "node:path"

/** Where the CLI reads and writes: the real process, or a capture in tests and the demo. */
export interface Io {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  /** stdout is an interactive terminal (live progress view). */
  readonly isTTY: boolean
  /** Terminal width, when known. */
  readonly columns: () => number
  readonly color: boolean
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly readStdin: () => Promise<string>
  /** Called with a cleanup that must run on Ctrl-C; returns the unregister function. */
  readonly onInterrupt: (handler: () => void) => () => void
}

const readAll = (stream: NodeJS.ReadableStream): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on("data", (c: Buffer | string) => chunks.push(typeof c === "string" ? Buffer.from(c) : c))
    stream.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    stream.on("error", reject)
  })

export const processIo = (): Io => {
  const isTTY = process.stdout.isTTY === true
  const env = process.env
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    isTTY,
    columns: () => process.stdout.columns || 100,
    color: isTTY && env.NO_COLOR === undefined && env.TERM !== "dumb",
    env,
    cwd: process.cwd(),
    readStdin: () => readAll(process.stdin),
    onInterrupt: (handler) => {
      process.on("SIGINT", handler)
      process.on("SIGTERM", handler)
      return () => {
        process.off("SIGINT", handler)
        process.off("SIGTERM", handler)
      }
    }
  }
}

/** An in-memory Io for tests: never a TTY unless asked. */
export const captureIo = (
  options: {
    readonly stdin?: string
    readonly env?: Record<string, string>
    readonly cwd?: string
    /** Pretend stdout is a terminal (the live view), with colors. */
    readonly tty?: boolean
  } = {}
) => {
  let out = ""
  let err = ""
  const io: Io = {
    out: (text) => {
      out += text
    },
    err: (text) => {
      err += text
    },
    isTTY: options.tty ?? false,
    columns: () => 100,
    color: options.tty ?? false,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    readStdin: async () => options.stdin ?? "",
    onInterrupt: () => () => {}
  }
  return {
    io,
    get stdout() {
      return out
    },
    get stderr() {
      return err
    }
  }
}

export const resolvePath = (io: Io, p: string) => path.resolve(io.cwd, p)

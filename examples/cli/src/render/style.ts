export interface Style {
  readonly bold: (s: string) => string
  readonly dim: (s: string) => string
  readonly red: (s: string) => string
  readonly green: (s: string) => string
  readonly yellow: (s: string) => string
  readonly cyan: (s: string) => string
}

const wrap = (on: number, off: number) => (s: string) => (s === "" ? s : `\x1b[${on}m${s}\x1b[${off}m`)

export const makeStyle = (color: boolean): Style =>
  color
    ? {
        bold: wrap(1, 22),
        dim: wrap(2, 22),
        red: wrap(31, 39),
        green: wrap(32, 39),
        yellow: wrap(33, 39),
        cyan: wrap(36, 39)
      }
    : { bold: (s) => s, dim: (s) => s, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s }

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g

/** The text without ANSI escapes. */
export const stripAnsi = (s: string) => s.replace(ANSI, "")

/** Visible length (ANSI escapes do not count). */
export const visibleLength = (s: string) => stripAnsi(s).length

import * as fs from "node:fs"
import * as path from "node:path"

/** Writes bench/results/<name>.json and .md with the machine and Node version alongside. */
export const writeResult = (name, data) => {
  const dir = path.resolve(import.meta.dirname, "results")
  fs.mkdirSync(dir, { recursive: true })
  const doc = { name, at: new Date().toISOString(), node: process.version, cpus: await_cpus(), ...data }
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`)
  const lines = [`# ${name}`, "", `Node ${process.version}, ${doc.cpus}, ${doc.at}`, ""]
  if (Array.isArray(data.rows)) {
    const keys = Object.keys(data.rows[0] ?? {})
    lines.push(`| ${keys.join(" | ")} |`, `| ${keys.map(() => "---").join(" | ")} |`)
    for (const r of data.rows)
      lines.push(`| ${keys.map((k) => (typeof r[k] === "number" ? Number(r[k].toFixed(3)) : r[k])).join(" | ")} |`)
  }
  fs.writeFileSync(path.join(dir, `${name}.md`), `${lines.join("\n")}\n`)
  console.log(`wrote bench/results/${name}.json`)
}

function await_cpus() {
  const os = globalThis.process.getBuiltinModule("node:os")
  const cpus = os.cpus()
  return `${cpus.length} × ${cpus[0]?.model ?? "cpu"}`
}

// Prints the JSON object of built-ins a compiled OPA Wasm policy imports from its host, i.e. the
// built-ins the Wasm target does not implement natively and the JS SDK would have to supply.
// Uses only the WebAssembly API (no npm packages). Usage: node wasm-builtins.mjs policy.wasm
import { readFileSync } from "node:fs"

const memory = new WebAssembly.Memory({ initial: 5 })
const refuse = () => {
  throw new Error("no host built-ins in this probe")
}
const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2]), {
  env: {
    memory,
    opa_abort: refuse,
    opa_println: () => {},
    opa_builtin0: refuse,
    opa_builtin1: refuse,
    opa_builtin2: refuse,
    opa_builtin3: refuse,
    opa_builtin4: refuse
  }
})
const { builtins, opa_json_dump } = instance.exports
const addr = opa_json_dump(builtins())
const bytes = new Uint8Array(memory.buffer)
let end = addr
while (bytes[end] !== 0) end++
process.stdout.write(`${new TextDecoder().decode(bytes.subarray(addr, end))}\n`)

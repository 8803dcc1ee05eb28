// The dev toolchain is pinned to Node 24 through the `node` devDependency; npm scripts put
// node_modules/.bin first on PATH, so this proves which Node actually runs the build and tests.
const major = Number(process.versions.node.split(".")[0])
console.log(`sluice: running on Node ${process.version} (${process.execPath})`)
if (major < 22 || (major === 22 && Number(process.versions.node.split(".")[1]) < 19)) {
  console.error(
    `sluice: Node >= 22.19 is required, found ${process.version}. Run through npm (npm run …) so node_modules/.bin/node (Node 24) is used.`
  )
  process.exit(1)
}

#!/usr/bin/env node
// The `sluice` command. A committed file, not dist/main.js itself: npm links a workspace's bin
// when it installs, and on a fresh clone dist/ is only built afterwards (`npm run build`), so a bin
// pointing into dist/ would never be linked.
try {
  await import("../dist/main.js")
} catch (e) {
  if (e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/main.js")) {
    process.stderr.write("error: the sluice CLI is not built yet: run `npm run build` in the repository first\n")
    process.exit(1)
  }
  throw e
}

/**
 * The Node versions `sluice` runs on: its package.json's `engines` (`>=22.19`). Checked by
 * `main.ts` before anything else is loaded, because on an older Node the dependencies fail with
 * errors that do not say why.
 */
export const REQUIRED_NODE = { major: 22, minor: 19 } as const

/** Why this Node cannot run `sluice`, or `undefined` when it can. */
export const nodeVersionProblem = (version: string, execPath: string): string | undefined => {
  const [major, minor] = version.replace(/^v/, "").split(".").map(Number)
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return undefined
  const { major: needMajor, minor: needMinor } = REQUIRED_NODE
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined
  return `sluice needs Node >= ${needMajor}.${needMinor} (package.json "engines"); this is Node ${version.replace(/^v/, "")} (${execPath}).
In a clone of the repository, \`npx sluice …\` and \`npm run sluice -- …\` run it on the Node 24 that \`npm install\` puts in node_modules/.bin.`
}

#!/usr/bin/env node
// Entry point installed as `outpost` (npx outpost ...). Needs Node >= 24.12 for type stripping;
// `npm install` puts Node 24 first on PATH for npm scripts and npx.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 24 || (major === 24 && minor < 12)) {
  process.stderr.write(
    `outpost needs Node >= 24.12 (this is ${process.version}). Run it through npm: 'npx outpost ...' or 'npm run outpost -- ...'\n`,
  )
  process.exit(2)
}
await import('../src/main.ts')

/**
 * Fails when a package imports another workspace package or an npm module that
 * its own package.json does not declare (npm hoisting would otherwise hide it),
 * so each deployable's dependency list stays the truth about its supply chain.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { builtinModules } from 'node:module'

const root = join(import.meta.dirname, '..')
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  devDependencies?: Record<string, string>
}
const devRoot = new Set(Object.keys(rootPkg.devDependencies ?? {}))
const builtins = new Set(builtinModules)
const problems: string[] = []

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'testdata' || name === 'fixtures') continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (p.endsWith('.ts')) out.push(p)
  }
  return out
}

const importRe =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

for (const pkgName of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', pkgName)
  let pkg: {
    name: string
    dependencies?: Record<string, string>
    devDependencies?: Record<string, string>
  }
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg
  } catch {
    continue
  }
  const deps = new Set(Object.keys(pkg.dependencies ?? {}))
  const devDeps = new Set(Object.keys(pkg.devDependencies ?? {}))
  for (const file of walk(dir, [])) {
    const isTest = /\.test\.ts$|\/test\/|\/bench\//.test(file)
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2]
      if (
        spec === undefined ||
        spec.startsWith('.') ||
        spec.startsWith('node:') ||
        spec.startsWith('#')
      )
        continue
      if (builtins.has(spec)) continue
      const name = spec.startsWith('@')
        ? spec.split('/').slice(0, 2).join('/')
        : (spec.split('/')[0] ?? spec)
      if (name === pkg.name) continue
      if (deps.has(name)) continue
      if (isTest && (devDeps.has(name) || devRoot.has(name) || name.startsWith('@outpost/')))
        continue
      problems.push(
        `${file.slice(root.length + 1)}: imports '${name}', which ${pkg.name} does not declare`,
      )
    }
  }
}

if (problems.length > 0) {
  process.stderr.write(
    `check-deps: ${problems.length} undeclared imports\n  ${problems.join('\n  ')}\n`,
  )
  process.exit(1)
}
process.stdout.write('check-deps: every import is declared\n')

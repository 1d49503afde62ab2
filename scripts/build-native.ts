/**
 * Builds packages/tls's native addon (docs/adr/0012-native-crypto-addon.md):
 * packages/tls/native/outpost_tls.c → packages/tls/native/build/outpost_tls.node, with
 * the system C compiler and the headers of the running Node (node_api.h and the
 * OpenSSL headers Node ships). The addon links against no libcrypto: its OpenSSL
 * symbols resolve from the node binary when it is loaded.
 *
 * Run by the root `prepare` script, so `npm ci` / `npm install` build it. When it
 * cannot build (no compiler, no headers, another platform), it prints one warning and
 * exits 0: packages/tls then uses node:crypto, as it does with OUTPOST_TLS_NATIVE=0.
 *
 *   node scripts/build-native.ts [--quiet]
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const root = join(import.meta.dirname, '..')
const source = join(root, 'packages', 'tls', 'native', 'outpost_tls.c')
const outDir = join(root, 'packages', 'tls', 'native', 'build')
const target = join(outDir, 'outpost_tls.node')
const quiet = process.argv.includes('--quiet')

function skip(reason: string): never {
  process.stderr.write(
    `build-native: WARNING: not building the TLS crypto addon (${reason}); ` +
      `packages/tls will use node:crypto, which is slower (docs/adr/0012-native-crypto-addon.md)\n`,
  )
  rmSync(target, { force: true })
  process.exit(0)
}

/** The version a header directory is for, from node_version.h. */
function headerVersion(dir: string): string | undefined {
  try {
    const h = readFileSync(join(dir, 'node_version.h'), 'utf8')
    const part = (name: string): string | undefined =>
      new RegExp(`#define ${name} (\\d+)`).exec(h)?.[1]
    const [a, b, c] = [
      part('NODE_MAJOR_VERSION'),
      part('NODE_MINOR_VERSION'),
      part('NODE_PATCH_VERSION'),
    ]
    return a !== undefined && b !== undefined && c !== undefined ? `${a}.${b}.${c}` : undefined
  } catch {
    return undefined
  }
}

/**
 * Header directories to try, best first: beside the running binary (a normal Node
 * install: <prefix>/bin/node and <prefix>/include/node), then the platform package the
 * pinned `node` npm package installs (its bin/node is a copy without include/ beside it).
 */
function headerCandidates(): string[] {
  const out = [join(dirname(process.execPath), '..', 'include', 'node')]
  const platformPkg = `node-${process.platform}-${process.arch}/package.json`
  for (const from of [
    join(root, 'node_modules', 'node', 'package.json'),
    join(root, 'package.json'),
  ]) {
    try {
      out.push(join(dirname(createRequire(from).resolve(platformPkg)), 'include', 'node'))
    } catch {
      // not installed that way
    }
  }
  return out
}

function findHeaders(): string {
  const seen: string[] = []
  for (const dir of headerCandidates()) {
    if (!existsSync(join(dir, 'node_api.h')) || !existsSync(join(dir, 'openssl', 'evp.h'))) continue
    const v = headerVersion(dir)
    // The OpenSSL headers must be the ones of the OpenSSL inside this binary.
    if (v === process.versions.node) return dir
    seen.push(`${dir} is for ${v ?? 'an unknown version'}`)
  }
  skip(
    `no Node ${process.versions.node} headers with node_api.h and openssl/` +
      (seen.length > 0 ? `; ${seen.join('; ')}` : ''),
  )
}

function findCompiler(): string {
  for (const cc of [process.env['CC'], 'cc', 'gcc', 'clang']) {
    if (cc === undefined || cc === '') continue
    if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0) return cc
  }
  skip('no C compiler (cc, gcc or clang; or set CC)')
}

if (process.platform !== 'linux') skip(`only built on Linux, this is ${process.platform}`)
const headers = findHeaders()
const cc = findCompiler()
mkdirSync(outDir, { recursive: true })
// Built beside the target and renamed over it, so a running process never sees half a file.
const partial = join(outDir, `outpost_tls.${process.pid}.partial.node`)
const flags = [
  '-std=c11',
  '-O2',
  '-fPIC',
  '-shared',
  '-fvisibility=hidden',
  '-fstack-protector-strong',
  '-D_FORTIFY_SOURCE=2',
  '-D_POSIX_C_SOURCE=200809L',
  '-Wall',
  '-Wextra',
  '-Wno-unused-parameter',
  '-Werror=implicit-function-declaration',
  '-I',
  headers,
  '-o',
  partial,
  source,
  // Resolve every symbol when the addon is loaded: a missing one is then a load
  // error (and the node:crypto fallback), not a crash at its first call.
  '-Wl,-z,now',
  '-Wl,-z,relro',
  '-Wl,-z,noexecstack',
]
try {
  execFileSync(cc, flags, { stdio: ['ignore', 'inherit', 'inherit'] })
} catch {
  rmSync(partial, { force: true })
  skip(`${cc} failed on ${source}`)
}
// Load it in a child before putting it in place: a build that does not load is no build.
const check = spawnSync(
  process.execPath,
  [
    '-e',
    `const m = require(${JSON.stringify(partial)}); if (typeof m.Aead !== 'function') process.exit(3)`,
  ],
  { encoding: 'utf8' },
)
if (check.status !== 0) {
  rmSync(partial, { force: true })
  skip(
    `the built addon does not load: ${check.stderr.trim().split('\n')[0] ?? `exit ${check.status}`}`,
  )
}
renameSync(partial, target)
if (!quiet) {
  process.stdout.write(
    `build-native: ${target.slice(root.length + 1)} (Node ${process.versions.node}, OpenSSL ${process.versions.openssl}, ${cc})\n`,
  )
}

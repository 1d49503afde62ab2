/**
 * Test support for memory-hygiene checks: which byte strings occur in another process's
 * readable memory, read through /proc/PID/mem (Linux; the reader must be allowed to trace
 * the process, e.g. its parent). Reading does not stop the process.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'

export function scanProcessMemory(pid: number, needles: Record<string, Buffer>): Set<string> {
  const found = new Set<string>()
  const max = Math.max(...Object.values(needles).map((x) => x.length))
  const fd = openSync(`/proc/${pid}/mem`, 'r')
  const chunk = Buffer.alloc(16 * 1024 * 1024)
  try {
    for (const l of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      if (!/^[0-9a-f]+-[0-9a-f]+ r/.test(l) || /\[(vvar|vsyscall)\]/.test(l)) continue
      const [a = 0, b = 0] = (l.split(' ')[0] ?? '').split('-').map((x) => parseInt(x, 16))
      // Chunks overlap by the longest needle, so none is missed at a chunk edge.
      for (let pos = a; pos < b; pos += chunk.length - max) {
        let n = 0
        try {
          n = readSync(fd, chunk, 0, Math.min(chunk.length, b - pos), pos)
        } catch {
          break // unreadable (e.g. a guard page)
        }
        const view = chunk.subarray(0, n)
        for (const [name, needle] of Object.entries(needles))
          if (!found.has(name) && view.includes(needle)) found.add(name)
        if (n < chunk.length) break
      }
    }
  } finally {
    closeSync(fd)
  }
  return found
}

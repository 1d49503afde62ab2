/**
 * Wiring for node:http (and the http2 compatibility API): write a decision, or wrap
 * a request listener so protection runs first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Protection } from './engine.ts'
import type { Decision } from './types.ts'

interface Res {
  writeHead(status: number, headers: Record<string, string>): unknown
  end(body?: Uint8Array): unknown
}

/** Writes a non-pass decision; returns false for `pass` (the caller serves the request). */
export function writeDecision(d: Decision, res: Res, method = 'GET'): boolean {
  if (d.kind === 'pass') return false
  res.writeHead(d.status, { ...d.headers, 'content-length': String(d.body.length) })
  res.end(method === 'HEAD' ? undefined : d.body)
  return true
}

export interface NodeWiring {
  /** Zone of a request (default: the Host header without port). */
  readonly zone?: (req: IncomingMessage) => string
  /** Client address (default: the socket's remote address). */
  readonly ip?: (req: IncomingMessage) => string
}

/** Wraps a node:http listener: protection first, `next` only for `pass` (after any delay). */
export function toNodeHandler(
  protection: Protection,
  next: (req: IncomingMessage, res: ServerResponse) => void,
  w: NodeWiring = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase()
    const d = protection.evaluate({
      zone: w.zone?.(req) ?? host,
      host,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      ip: w.ip?.(req) ?? req.socket.remoteAddress ?? '',
      secure: 'encrypted' in req.socket,
    })
    if (writeDecision(d, res, req.method)) return
    if (d.kind === 'pass' && d.delayMs > 0)
      setTimeout(() => {
        next(req, res)
      }, d.delayMs)
    else next(req, res)
  }
}

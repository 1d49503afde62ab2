/**
 * The OpenAPI 3.1 document, generated from the route table (zod 4's
 * JSON Schema output is draft 2020-12, which OpenAPI 3.1 uses as is).
 */
import { z } from 'zod'
import { ERRORS } from './errors.ts'
import { ErrorBody } from './model.ts'
import type { Route } from './http/router.ts'

function schema(t: z.ZodType, io: 'input' | 'output'): unknown {
  const { $schema: _s, ...rest } = z.toJSONSchema(t, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >
  return rest
}

export function openApiDocument(
  routes: readonly Route[],
  servers: readonly string[] = [],
): unknown {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}')
    const params = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))
    const okStatus = String(r.status ?? 200)
    const contentType = r.kind === 'html' ? 'text/html' : 'application/json'
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(r.scope === 'public' ? { security: [] } : { 'x-required-scope': r.scope }),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: {
                [r.kind === 'html' ? 'application/x-www-form-urlencoded' : 'application/json']: {
                  schema: schema(r.body, 'input'),
                },
              },
            },
          }
        : {}),
      responses: {
        [okStatus]: {
          description: 'Success',
          ...(r.response
            ? { content: { [contentType]: { schema: schema(r.response, 'output') } } }
            : {}),
        },
        default: {
          description: `Error envelope; codes: ${Object.keys(ERRORS).join(', ')}`,
          content: { 'application/json': { schema: schema(ErrorBody, 'output') } },
        },
      },
    }
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: op }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Outpost control plane', version: '1' },
    servers: servers.map((url) => ({ url })),
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  }
}

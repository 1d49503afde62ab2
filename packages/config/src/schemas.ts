/** Field types shared by service schemas. */
import { z } from 'zod'

/** "HOST:PORT" (IPv6 in brackets); port 0 allowed for tests. */
export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'Expected HOST:PORT, e.g. 127.0.0.1:2407')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'Port must be at most 65535')

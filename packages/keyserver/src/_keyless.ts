/**
 * The parts of `@outpost/keyless` the key server uses, in one place. Note
 * `nameOfOp` / `nameOfErrorCode` give readable names for logs and audit.
 */
export {
  Op,
  Tag,
  ErrorCode,
  nameOfOp,
  nameOfErrorCode,
  encodeFrame,
  decodeFrame,
  Deframer,
  serveConnection,
  errorResponse,
  skiOf,
  KeylessRemoteError,
  KeylessError,
  KeylessClient,
} from '@outpost/keyless'
export type { Operation, PeerInfo, OperationHandler, ServeEvent } from '@outpost/keyless'

/**
 * The PKCS#11 worker thread. Every Cryptoki call blocks until the token
 * answers, so they all run here, one at a time on one session, and the main
 * thread's event loop never waits on the HSM. Messages: the main thread posts
 * {@link Pkcs11Request}s and receives {@link Pkcs11Reply}s.
 */
import { parentPort, workerData } from 'node:worker_threads'
import pkcs11js from 'pkcs11js'

export interface Pkcs11WorkerData {
  readonly module: string
  readonly tokenLabel: string
  /** The user PIN as bytes; zeroised here after login. */
  readonly pin: Uint8Array
}

export type Pkcs11Mechanism = 'ecdsa' | 'rsa-pkcs' | 'rsa-pss' | 'rsa-x509' | 'eddsa'

export interface Pkcs11Request {
  readonly id: number
  readonly key: number
  readonly mech: Pkcs11Mechanism
  readonly hash?: 'sha256' | 'sha384' | 'sha512'
  readonly data: Uint8Array
}

export type Pkcs11Reply =
  | { readonly kind: 'ready'; readonly keys: Pkcs11KeyInfo[] }
  | { readonly kind: 'fatal'; readonly message: string }
  | { readonly kind: 'result'; readonly id: number; readonly data: Uint8Array }
  | { readonly kind: 'error'; readonly id: number; readonly message: string }

/** Public facts about one private key on the token. */
export interface Pkcs11KeyInfo {
  readonly index: number
  readonly label: string
  readonly keyType: 'rsa' | 'ec' | 'ec-edwards'
  readonly modulus?: Uint8Array
  readonly publicExponent?: Uint8Array
  readonly ecParams?: Uint8Array
  readonly ecPoint?: Uint8Array
}

const hashMech = {
  sha256: { hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, saltLen: 32 },
  sha384: { hashAlg: pkcs11js.CKM_SHA384, mgf: pkcs11js.CKG_MGF1_SHA384, saltLen: 48 },
  sha512: { hashAlg: pkcs11js.CKM_SHA512, mgf: pkcs11js.CKG_MGF1_SHA512, saltLen: 64 },
} as const

// PKCS#11 v3.0 values that pkcs11js does not name.
const CKK_EC_EDWARDS = 0x40
const CKM_EDDSA = 0x1057

function ulong(b: Buffer | undefined): number {
  if (b === undefined) return -1
  return b.length >= 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0)
}

function main(): void {
  const port = parentPort
  if (port === null) return
  const data = workerData as Pkcs11WorkerData
  const p11 = new pkcs11js.PKCS11()
  let session: Buffer
  const handles: Buffer[] = []
  try {
    p11.load(data.module)
    p11.C_Initialize()
    const slot = p11
      .C_GetSlotList(true)
      .find((s) => p11.C_GetTokenInfo(s).label.trim() === data.tokenLabel)
    if (slot === undefined) throw new Error(`no token labelled "${data.tokenLabel}"`)
    session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION)
    // pkcs11js takes the PIN as a string: it exists as one only for this call.
    const pin = Buffer.from(data.pin)
    try {
      p11.C_Login(session, pkcs11js.CKU_USER, pin.toString('utf8'))
    } finally {
      pin.fill(0)
      data.pin.fill(0)
    }
    p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }])
    const privs = p11.C_FindObjects(session, 1000)
    p11.C_FindObjectsFinal(session)
    const keys: Pkcs11KeyInfo[] = []
    for (const h of privs) {
      const attrs = p11.C_GetAttributeValue(session, h, [
        { type: pkcs11js.CKA_KEY_TYPE },
        { type: pkcs11js.CKA_ID },
        { type: pkcs11js.CKA_LABEL },
      ])
      const kt = ulong(attrs[0]?.value)
      const ckaId = attrs[1]?.value
      const label = attrs[2] ? attrs[2].value.toString('utf8') : ''
      const index = handles.push(h) - 1
      if (kt === pkcs11js.CKK_RSA) {
        const [n, e] = p11.C_GetAttributeValue(session, h, [
          { type: pkcs11js.CKA_MODULUS },
          { type: pkcs11js.CKA_PUBLIC_EXPONENT },
        ])
        keys.push({
          index,
          label,
          keyType: 'rsa',
          modulus: n?.value as Buffer,
          publicExponent: e?.value as Buffer,
        })
        continue
      }
      if (kt !== pkcs11js.CKK_EC && kt !== CKK_EC_EDWARDS) continue
      // The EC point lives on the public key object with the same CKA_ID.
      const template = [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        ...(ckaId !== undefined ? [{ type: pkcs11js.CKA_ID, value: ckaId }] : []),
      ]
      p11.C_FindObjectsInit(session, template)
      const pub = p11.C_FindObjects(session, 1)[0]
      p11.C_FindObjectsFinal(session)
      if (pub === undefined) continue
      const [params, point] = p11.C_GetAttributeValue(session, pub, [
        { type: pkcs11js.CKA_EC_PARAMS },
        { type: pkcs11js.CKA_EC_POINT },
      ])
      keys.push({
        index,
        label,
        keyType: kt === pkcs11js.CKK_EC ? 'ec' : 'ec-edwards',
        ecParams: params?.value as Buffer,
        ecPoint: point?.value as Buffer,
      })
    }
    port.postMessage({ kind: 'ready', keys } satisfies Pkcs11Reply)
  } catch (e) {
    port.postMessage({ kind: 'fatal', message: (e as Error).message } satisfies Pkcs11Reply)
    return
  }

  port.on('message', (msg: Pkcs11Request | 'close') => {
    if (msg === 'close') {
      try {
        p11.C_Logout(session)
        p11.C_CloseSession(session)
        p11.C_Finalize()
      } finally {
        port.close()
      }
      return
    }
    try {
      const key = handles[msg.key]
      if (key === undefined) throw new Error(`no key ${msg.key}`)
      const input = Buffer.from(msg.data)
      const out = Buffer.alloc(1024)
      let result: Buffer
      if (msg.mech === 'rsa-x509') {
        p11.C_DecryptInit(session, { mechanism: pkcs11js.CKM_RSA_X_509 }, key)
        result = p11.C_Decrypt(session, input, out)
      } else {
        const mechanism =
          msg.mech === 'ecdsa'
            ? { mechanism: pkcs11js.CKM_ECDSA }
            : msg.mech === 'eddsa'
              ? { mechanism: CKM_EDDSA }
              : msg.mech === 'rsa-pkcs'
                ? { mechanism: pkcs11js.CKM_RSA_PKCS }
                : {
                    mechanism: pkcs11js.CKM_RSA_PKCS_PSS,
                    parameter: {
                      type: pkcs11js.CK_PARAMS_RSA_PSS,
                      ...hashMech[msg.hash ?? 'sha256'],
                    },
                  }
        p11.C_SignInit(session, mechanism, key)
        result = p11.C_Sign(session, input, out)
      }
      const copy = new Uint8Array(result)
      out.fill(0)
      port.postMessage({ kind: 'result', id: msg.id, data: copy } satisfies Pkcs11Reply)
    } catch (e) {
      port.postMessage({
        kind: 'error',
        id: msg.id,
        message: (e as Error).message,
      } satisfies Pkcs11Reply)
    }
  })
}

main()

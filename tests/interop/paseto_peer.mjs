// PASETO v4.public peer for vaulttoken's interop tests (tests/interop_node.rs), over
// the `paseto` npm package 4.x (installed next to this file: `npm ci` here).
// paseto 4.x has no built-in v4.local (Web Cryptography has no XChaCha20 or
// BLAKE2b), so only v4.public is exchanged.
//
// Protocol, one JSON object per line:
//
// - First, this script writes a hello line: {"peer": "paseto", "version": "4.x.y"}
//   when the package loads, otherwise {"unavailable": "<reason>"} and it exits.
// - Then it reads requests from stdin until EOF and answers each with one line,
//   {"ok": true, ...} or {"ok": false, "error_class", "error_code", "error_claim",
//   "error"} (`error_claim` names the claim a ClaimValidationError is about).
//
// Byte strings (keys, message, footer, implicit assertion) are hex; tokens are
// strings; `now` is an RFC 3339 instant, used for generated and checked claims.
//
// - {"op": "public_sign", "seed", "message", "footer", "implicit", "now"} -> {"token"}
//   `message` must be a JSON object; paseto adds `iat` and `exp` (now + 1 h)
//   only when they are missing.
// - {"op": "public_verify", "public_key", "token", "implicit", "now",
//    ["expected_footer"], ["allow_non_expiring"]} -> {"claims", "footer"}
//   paseto refuses a token without `exp` unless `allow_non_expiring` is true.
//
// An unknown op or a missing field is a protocol error: the script exits non-zero.

import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'

const PINNED = '4.0.1'

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

class ProtocolError extends Error {}

function field(request, name) {
  if (!(name in request)) throw new ProtocolError(`missing field ${JSON.stringify(name)}`)
  return request[name]
}

function bytes(request, name) {
  const hex = field(request, name)
  if (typeof hex !== 'string' || !/^(?:[0-9a-f]{2})*$/u.test(hex)) {
    throw new ProtocolError(`field ${JSON.stringify(name)} is not lowercase hex`)
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

function hex(data) {
  return Buffer.from(data).toString('hex')
}

function instant(request) {
  const now = new Date(field(request, 'now'))
  if (Number.isNaN(now.valueOf())) throw new ProtocolError('field "now" is not a date')
  return now
}

async function load() {
  let version
  try {
    const manifest = new URL('./node_modules/paseto/package.json', import.meta.url)
    version = JSON.parse(await readFile(manifest, 'utf8')).version
  } catch (err) {
    const detail = err.code === 'ENOENT' ? '' : `: ${err.message}`
    return {
      unavailable: `node package paseto not installed in tests/interop (cd tests/interop && npm ci)${detail}`,
    }
  }
  if (!version.startsWith('4.')) {
    return {
      unavailable: `node package paseto ${PINNED} wanted but ${version} is installed (cd tests/interop && npm ci)`,
    }
  }
  if (globalThis.crypto?.subtle === undefined) {
    return { unavailable: `node ${process.version} has no Web Cryptography API` }
  }
  const { PublicProtocol } = await import('paseto')
  const publicApi = await import('paseto/v4/public')
  return { version, PublicProtocol, ...publicApi }
}

// An Ed25519 PKCS#8 (RFC 8410) wrapper around a 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

async function secretKey(paseto, seed) {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed])
  // Extractable: without SubtleCrypto.getPublicKey (Node 20), paseto derives the
  // public key by exporting the private key as a JWK.
  const key = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, true, ['sign'])
  return await paseto.SecretKeyFromCryptoKey(key)
}

async function publicKey(paseto, raw) {
  const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, true, ['verify'])
  return await paseto.PublicKeyFromCryptoKey(key)
}

async function run(paseto, protocol, request) {
  const op = field(request, 'op')
  if (op === 'public_sign') {
    const key = await secretKey(paseto, bytes(request, 'seed'))
    const claims = JSON.parse(new TextDecoder().decode(bytes(request, 'message')))
    const token = await protocol.Sign(key, claims, {
      footer: bytes(request, 'footer'),
      implicitAssertion: bytes(request, 'implicit'),
      now: instant(request),
    })
    return { token }
  }
  if (op === 'public_verify') {
    const key = await publicKey(paseto, bytes(request, 'public_key'))
    const options = {
      implicitAssertion: bytes(request, 'implicit'),
      now: instant(request),
      allowNonExpiring: request.allow_non_expiring === true,
    }
    if ('expected_footer' in request) options.footer = bytes(request, 'expected_footer')
    const result = await protocol.Verify(key, field(request, 'token'), options)
    return { claims: result.claims, footer: hex(result.footer) }
  }
  throw new ProtocolError(`unknown op ${JSON.stringify(op)}`)
}

const paseto = await load()
if ('unavailable' in paseto) {
  emit({ unavailable: paseto.unavailable })
} else {
  emit({ peer: 'paseto', version: paseto.version })
  const protocol = new paseto.PublicProtocol(paseto.SignFactory, paseto.VerifyFactory)
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === '') continue
    const request = JSON.parse(line)
    try {
      emit({ ok: true, ...(await run(paseto, protocol, request)) })
    } catch (err) {
      if (err instanceof ProtocolError) throw err
      // A refusal by paseto is an answer, not a crash.
      emit({
        ok: false,
        error_class: err.name,
        error_code: err.code ?? null,
        error_claim: err.claim ?? null,
        error: err.message,
      })
    }
  }
}

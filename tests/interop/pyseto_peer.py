#!/usr/bin/env python3
"""PASETO v4 and PASERK k4 peer for vaulttoken's interop tests, over pyseto: tokens for
tests/interop_python.rs, PASERK strings for tests/interop_paserk_python.rs.

Protocol, one JSON object per line:

- First, this script writes a hello line: {"peer": "pyseto", "version": "..."} when
  pyseto can be imported, otherwise {"unavailable": "<reason>"} and it exits.
- Then it reads requests from stdin until EOF and answers each with one line,
  {"ok": true, ...} or {"ok": false, "error_class": "...", "error": "..."}.

Every byte string (keys, nonce, message, footer, implicit assertion, password) is
hex; tokens and PASERK strings are plain strings. Token requests:

- {"op": "local_encrypt", "key", "message", "footer", "implicit", ["nonce"]} -> {"token"}
- {"op": "local_decrypt", "key", "token", "implicit"}                         -> {"message", "footer"}
- {"op": "public_sign", "seed", "message", "footer", "implicit"}              -> {"token"}
- {"op": "public_verify", "public_key", "token", "implicit"}                  -> {"message", "footer"}

PASERK requests. A "plain" PASERK is a k4.local, k4.public or k4.secret string;
every answer that carries a key gives it as pyseto writes it ("paserk") and, for
an unwrapped key, as raw bytes ("key": the local key, the public key, or seed ‖
public key):

- {"op": "paserk_local", "key"}            -> {"paserk", "id"}               (k4.local, k4.lid)
- {"op": "paserk_public", "public_key"}    -> {"paserk", "id"}               (k4.public, k4.pid)
- {"op": "paserk_secret", "seed"}          -> {"paserk", "id", "public_id"}  (k4.secret, k4.sid, k4.pid)
- {"op": "paserk_read", "paserk"}          -> {"paserk", "key", "id"}        (plain PASERK in)
- {"op": "paserk_wrap", "paserk", "wrapping_key"}  -> {"paserk"}  (plain in, *-wrap.pie out)
- {"op": "paserk_unwrap", "paserk", "wrapping_key"} -> {"paserk", "key"}
- {"op": "paserk_password_wrap", "paserk", "password", "memory_kib", "time_cost",
   "parallelism"}                          -> {"paserk"}  (plain in, *-pw out)
- {"op": "paserk_password_unwrap", "paserk", "password"} -> {"paserk", "key"}
- {"op": "paserk_seal", "paserk", "public_key", "key_form"}  -> {"paserk"}  (k4.local in)
- {"op": "paserk_unseal", "paserk", "seed", "key_form"}      -> {"paserk", "key"}

pyseto's k4.seal takes PEM keys and uses them as X25519 keys, where PASERK names
the recipient's Ed25519 key pair. With "key_form": "x25519" this peer maps the
Ed25519 key to its X25519 form first, as PASERK does internally (the public key
by the birational map, the secret key as the clamped first half of SHA-512(seed));
with "key_form": "ed25519" it hands pyseto the Ed25519 key itself, as PEM.

Argon2 costs are given as pyseto takes them: memory in KiB (argon2-cffi's unit;
pyseto writes memory_kib * 1024 bytes into the PASERK), time cost, lanes.

An unknown op or a missing field is a protocol error: the script exits non-zero.
"""

import hashlib
import json
import sys

PINNED = "1.10.0"

# Curve25519's field prime, for the Ed25519 -> X25519 public key map.
P25519 = 2**255 - 19


class ProtocolError(Exception):
    """A request this peer does not understand: a bug in the test, not a refusal."""


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def x25519_public_from_ed25519(public_key):
    """u = (1 + y) / (1 - y) mod p: libsodium's crypto_sign_ed25519_pk_to_curve25519."""
    y = int.from_bytes(public_key, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, P25519 - 2, P25519) % P25519
    return u.to_bytes(32, "little")


def x25519_secret_from_ed25519(seed):
    """The first half of SHA-512(seed): libsodium's crypto_sign_ed25519_sk_to_curve25519
    (X25519 clamps it on use)."""
    return hashlib.sha512(seed).digest()[:32]


def main():
    try:
        import pyseto
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (
            Ed25519PrivateKey,
            Ed25519PublicKey,
        )
        from cryptography.hazmat.primitives.asymmetric.x25519 import (
            X25519PrivateKey,
            X25519PublicKey,
        )
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
            PublicFormat,
        )
        from pyseto import Key
    except ImportError as err:
        emit(
            {
                "unavailable": "python3 module pyseto not importable "
                f"(pip install pyseto=={PINNED}): {err}"
            }
        )
        return 0

    emit({"peer": "pyseto", "version": getattr(pyseto, "__version__", "unknown")})

    def local_key(req):
        return Key.new(version=4, purpose="local", key=bytes.fromhex(req["key"]))

    def run(req):
        op = req["op"]
        if op == "local_encrypt":
            token = pyseto.encode(
                local_key(req),
                bytes.fromhex(req["message"]),
                footer=bytes.fromhex(req["footer"]),
                implicit_assertion=bytes.fromhex(req["implicit"]),
                nonce=bytes.fromhex(req.get("nonce", "")),
            )
            return {"token": token.decode("ascii")}
        if op == "local_decrypt":
            token = pyseto.decode(
                local_key(req),
                req["token"],
                implicit_assertion=bytes.fromhex(req["implicit"]),
            )
            return {"message": token.payload.hex(), "footer": token.footer.hex()}
        if op == "public_sign":
            key = Key.from_asymmetric_key_params(4, d=bytes.fromhex(req["seed"]))
            token = pyseto.encode(
                key,
                bytes.fromhex(req["message"]),
                footer=bytes.fromhex(req["footer"]),
                implicit_assertion=bytes.fromhex(req["implicit"]),
            )
            return {"token": token.decode("ascii")}
        if op == "public_verify":
            key = Key.from_asymmetric_key_params(4, x=bytes.fromhex(req["public_key"]))
            token = pyseto.decode(
                key,
                req["token"],
                implicit_assertion=bytes.fromhex(req["implicit"]),
            )
            return {"message": token.payload.hex(), "footer": token.footer.hex()}
        if op.startswith("paserk_"):
            return run_paserk(op, req)
        raise ProtocolError(f"unknown op {op!r}")

    def raw_key(key):
        """The key's bytes: a local key, a public key, or seed ‖ public key."""
        if key.purpose == "local":
            return key._key
        if isinstance(key._key, Ed25519PublicKey):
            return key._key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        seed = key._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return seed + key._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def unwrapped(key):
        return {"paserk": key.to_paserk(), "key": raw_key(key).hex()}

    def sealing_pem(req, secret):
        form = req["key_form"]
        if form == "x25519":
            if secret:
                key = X25519PrivateKey.from_private_bytes(
                    x25519_secret_from_ed25519(bytes.fromhex(req["seed"]))
                )
            else:
                key = X25519PublicKey.from_public_bytes(
                    x25519_public_from_ed25519(bytes.fromhex(req["public_key"]))
                )
        elif form == "ed25519":
            if secret:
                key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(req["seed"]))
            else:
                key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(req["public_key"]))
        else:
            raise ProtocolError(f"unknown key_form {form!r}")
        if secret:
            return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def run_paserk(op, req):
        if op == "paserk_local":
            key = local_key(req)
            return {"paserk": key.to_paserk(), "id": key.to_paserk_id()}
        if op == "paserk_public":
            key = Key.from_asymmetric_key_params(4, x=bytes.fromhex(req["public_key"]))
            return {"paserk": key.to_paserk(), "id": key.to_paserk_id()}
        if op == "paserk_secret":
            key = Key.from_asymmetric_key_params(4, d=bytes.fromhex(req["seed"]))
            return {
                "paserk": key.to_paserk(),
                "id": key.to_paserk_id(),
                "public_id": key.to_peer_paserk_id(),
            }
        if op == "paserk_read":
            key = Key.from_paserk(req["paserk"])
            return {**unwrapped(key), "id": key.to_paserk_id()}
        if op == "paserk_wrap":
            key = Key.from_paserk(req["paserk"])
            return {"paserk": key.to_paserk(wrapping_key=bytes.fromhex(req["wrapping_key"]))}
        if op == "paserk_unwrap":
            wrapping_key = bytes.fromhex(req["wrapping_key"])
            return unwrapped(Key.from_paserk(req["paserk"], wrapping_key=wrapping_key))
        if op == "paserk_password_wrap":
            key = Key.from_paserk(req["paserk"])
            wrapped = key.to_paserk(
                password=bytes.fromhex(req["password"]),
                memory_cost=req["memory_kib"],
                time_cost=req["time_cost"],
                parallelism=req["parallelism"],
            )
            return {"paserk": wrapped}
        if op == "paserk_password_unwrap":
            password = bytes.fromhex(req["password"])
            return unwrapped(Key.from_paserk(req["paserk"], password=password))
        if op == "paserk_seal":
            key = Key.from_paserk(req["paserk"])
            return {"paserk": key.to_paserk(sealing_key=sealing_pem(req, secret=False))}
        if op == "paserk_unseal":
            pem = sealing_pem(req, secret=True)
            return unwrapped(Key.from_paserk(req["paserk"], unsealing_key=pem))
        raise ProtocolError(f"unknown op {op!r}")

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            answer = run(req)
        except (ProtocolError, KeyError):  # unknown op or missing field
            raise
        except Exception as err:  # a refusal by pyseto is an answer, not a crash
            emit({"ok": False, "error_class": type(err).__name__, "error": str(err)})
            continue
        emit({"ok": True, **answer})
    return 0


if __name__ == "__main__":
    sys.exit(main())

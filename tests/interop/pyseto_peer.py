#!/usr/bin/env python3
"""PASETO v4 peer for vaulttoken's interop tests (tests/interop_python.rs), over pyseto.

Protocol, one JSON object per line:

- First, this script writes a hello line: {"peer": "pyseto", "version": "..."} when
  pyseto can be imported, otherwise {"unavailable": "<reason>"} and it exits.
- Then it reads requests from stdin until EOF and answers each with one line,
  {"ok": true, ...} or {"ok": false, "error_class": "...", "error": "..."}.

Every byte string (keys, nonce, message, footer, implicit assertion) is hex;
tokens are plain strings. Requests:

- {"op": "local_encrypt", "key", "message", "footer", "implicit", ["nonce"]} -> {"token"}
- {"op": "local_decrypt", "key", "token", "implicit"}                         -> {"message", "footer"}
- {"op": "public_sign", "seed", "message", "footer", "implicit"}              -> {"token"}
- {"op": "public_verify", "public_key", "token", "implicit"}                  -> {"message", "footer"}

An unknown op or a missing field is a protocol error: the script exits non-zero.
"""

import json
import sys

PINNED = "1.10.0"


class ProtocolError(Exception):
    """A request this peer does not understand: a bug in the test, not a refusal."""


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    try:
        import pyseto
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

#!/usr/bin/env python3
"""Reads a vaulttoken key set (docs/KEYSET.md) as another implementation would, and
verifies a v4.public token with pyseto and the key its footer's kid names.

    python3 tests/interop/keyset_reader.py KEYS_URL TOKEN [EXPECTED_ISSUER]

KEYS_URL is the issuer's GET /keys (http on loopback, as the curl flow runs it, or
https). The document must be version 1, purpose "public", and, with
EXPECTED_ISSUER, name that issuer. The token's footer kid must name a key of the set
that verifies now; the token must verify with that key alone (no other key is ever
tried), and its iss must be the set's issuer. On success the claims are printed as
JSON and the exit status is 0; any refusal prints the reason on stderr and exits 1.
"""

import base64
import json
import sys
import urllib.request
from datetime import datetime, timezone

import pyseto

# The reader's own bounds, as docs/KEYSET.md asks of every reader.
MAX_DOCUMENT_LEN = 64 * 1024
MAX_KEYS = 64
TIMEOUT_SECONDS = 10


class Refused(Exception):
    """The document or the token is not one this reader accepts."""


def fetch(url):
    if not (url.startswith("https://") or url.startswith("http://127.0.0.1")
            or url.startswith("http://[::1]") or url.startswith("http://localhost")):
        raise Refused("the key set URL must be https, or http on loopback")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
        body = answer.read(MAX_DOCUMENT_LEN + 1)
    if len(body) > MAX_DOCUMENT_LEN:
        raise Refused("the key set is larger than 64 KiB")
    return json.loads(body)


def footer_kid(token):
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != "v4" or parts[1] != "public":
        raise Refused("not a v4.public token with a footer")
    padded = parts[3] + "=" * (-len(parts[3]) % 4)
    footer = json.loads(base64.urlsafe_b64decode(padded))
    kid = footer.get("kid") if isinstance(footer, dict) else None
    if not isinstance(kid, str):
        raise Refused("the footer names no kid")
    return kid


def verifies_now(key):
    if key.get("status") in ("next", "active"):
        return True
    if key.get("status") == "retiring":
        until = datetime.fromisoformat(key["verifies_until"].replace("Z", "+00:00"))
        return datetime.now(timezone.utc) < until
    return False


def read(url, token, expected_issuer=None):
    document = fetch(url)
    if document.get("version") != 1:
        raise Refused("version: not 1")
    if document.get("purpose") != "public":
        raise Refused("purpose: not public (a local set has no keys to verify with)")
    issuer = document.get("issuer")
    if expected_issuer is not None and issuer != expected_issuer:
        raise Refused("issuer: not the expected issuer")
    keys = document.get("keys")
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise Refused("keys: not an array of at most 64 keys")
    kid = footer_kid(token)
    named = [key for key in keys if key.get("kid") == kid]
    if len(named) != 1:
        raise Refused("the token's kid names no key of the set")
    key = named[0]
    if not verifies_now(key):
        raise Refused("the token's key no longer verifies")
    public = pyseto.Key.from_paserk(key["public_key"])
    # The set's kid must be the key's own id (PASERK pid), as docs/KEYSET.md says.
    if public.to_paserk_id() != kid:
        raise Refused("keys[].kid is not the id of its public_key")
    try:
        decoded = pyseto.decode(public, token, deserializer=json)
    except Exception as error:  # pyseto's VerifyError, DecryptError, ValueError...
        raise Refused(f"the token does not verify: {type(error).__name__}") from None
    claims = decoded.payload
    if claims.get("iss") != issuer:
        raise Refused("the token's iss is not the set's issuer")
    return claims


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        claims = read(argv[1], argv[2], argv[3] if len(argv) == 4 else None)
    except Refused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

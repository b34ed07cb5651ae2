"""Password handling of the stub: issue, hash for the registry, hash for the broker.

A device password is a uuid4 (122 random bits) that leaves the server once.
Neither store keeps it: the registry keeps a salted PBKDF2-SHA256 hash for
HTTP Basic auth, and the broker hash is kept in Mosquitto 2's own `$7$`
format (PBKDF2-SHA512), so the Mosquitto password file can be regenerated
from stored hashes at any time and the embedded broker can verify the same
hash. Stretching is kept light on purpose: a uuid4 cannot be guessed from a
dictionary, and a boot storm of 2000 devices must not queue behind hashing.

Profiled (bench/registry.py's storm, 2026-12-06): PBKDF2-SHA256 at 2,000
iterations cost 2.6 ms to issue and 3.0 ms to check, against 0.07 ms for the
registry's SQLite writes and broker bookkeeping of a handshake: hashing was the
handshake. Stretching buys nothing for a secret of 122 random bits (NIST SP
800-63B 5.1.2.2: a look-up secret of 112 bits or more may be kept under one
salted pass of an approved hash), so new registry hashes take one iteration;
hashes made with more still verify (the count is stored in each hash), off the
event loop (`cheap`).
"""
import base64
import hashlib
import hmac
import os
import uuid

REGISTRY_ITERATIONS = 1
CHEAP_ITERATIONS = 100  # up to this, a check is fast enough for the event loop (~0.1 ms)
# mosquitto_passwd 2.0 writes 101; the count is in each hash and Mosquitto takes any
# (checked against a real one: tests/test_server_acl.py), so one, as for the registry:
# 0.13 ms saved per new password, and per CONNECT the embedded broker checks.
MOSQUITTO_ITERATIONS = 1


def new_password():
    return str(uuid.uuid4())


def issue():
    """A new password and its two hashes: (plain, registry hash, broker hash).
    A few microseconds (one PBKDF2 round each): the server calls it inline."""
    password = new_password()
    return password, registry_hash(password), mosquitto_hash(password)


def registry_hash(password):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, REGISTRY_ITERATIONS)
    return "pbkdf2_sha256$%d$%s$%s" % (REGISTRY_ITERATIONS, salt.hex(), digest.hex())


def cheap(stored):
    """Whether checking this registry hash is cheap enough to do on the event loop."""
    try:
        return int(stored.split("$")[1]) <= CHEAP_ITERATIONS
    except (ValueError, AttributeError, IndexError):
        return True  # malformed: refused at once


def registry_verify(password, stored):
    try:
        algo, iterations, salt, digest = stored.split("$")
        if algo != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def mosquitto_hash(password):
    """A `$7$` line body as mosquitto_passwd writes it: iterations, base64 salt, base64 hash."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return "$7$%d$%s$%s" % (MOSQUITTO_ITERATIONS, base64.b64encode(salt).decode(),
                            base64.b64encode(digest).decode())


def mosquitto_verify(password, stored):
    try:
        _, kind, iterations, salt, digest = stored.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, AttributeError, TypeError):
        return False
    return hmac.compare_digest(base64.b64encode(got).decode(), digest)


# Verified against when the login is unknown, so that an unknown login costs the same
# work (and gets the same answer) as a known one with a wrong password.
DUMMY_REGISTRY_HASH = registry_hash(new_password())
DUMMY_MOSQUITTO_HASH = mosquitto_hash(new_password())

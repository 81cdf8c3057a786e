"""SE2xx: cryptography (weak hashes for passwords, weak ciphers/modes/keys, bad randomness,
hard-coded IVs, salts and keys)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from safety_eval.analysis.rules.common import (
    PASSWORD_NAME,
    SECRET_NAME,
    mentions,
    secret_like_name,
)
from safety_eval.analysis.rules.context import RuleContext, arg, dotted
from safety_eval.analysis.rules.patterns import (
    AnyOf,
    Arg,
    Below,
    CallIs,
    CallPattern,
    Is,
    Q,
    register_call_patterns,
)
from safety_eval.analysis.rules.registry import Hit, rule

_WEAK_HASHES = {
    "hashlib.md5": "md5",
    "hashlib.sha1": "sha1",
    "Crypto.Hash.MD5.new": "md5",
    "Crypto.Hash.SHA.new": "sha1",
    "Crypto.Hash.SHA1.new": "sha1",
    "Crypto.Hash.MD4.new": "md4",
    "cryptography.hazmat.primitives.hashes.MD5": "md5",
    "cryptography.hazmat.primitives.hashes.SHA1": "sha1",
}
_FAST_HASHES = {
    "hashlib.sha224": "sha224",
    "hashlib.sha256": "sha256",
    "hashlib.sha384": "sha384",
    "hashlib.sha512": "sha512",
    "hashlib.sha3_256": "sha3_256",
    "hashlib.sha3_512": "sha3_512",
    "hashlib.blake2b": "blake2b",
    "hashlib.blake2s": "blake2s",
    "Crypto.Hash.SHA256.new": "sha256",
    "Crypto.Hash.SHA512.new": "sha512",
}
_WEAK_NAMES = frozenset({"md5", "sha1", "sha", "md4", "md2"})
_PASSWORD_FUNC = re.compile(r"(?i)pass(word|wd)?|pwd|credential|login|auth")


def _hash_input(ctx: RuleContext, call: ast.Call, name: str) -> tuple[str, ast.expr | None]:
    """(algorithm, data argument) of a hash constructor / update call."""
    if name == "hashlib.new":
        algo = ctx.const(arg(call, "name", 0))
        return (algo.lower() if isinstance(algo, str) else ""), arg(call, "data", 1)
    if name.endswith(".update"):
        base = name[: -len(".update")]
        algo = _WEAK_HASHES.get(base) or _FAST_HASHES.get(base) or ""
        if base == "hashlib.new":
            algo = ""
        return algo, arg(call, "data", 0)
    algo = _WEAK_HASHES.get(name) or _FAST_HASHES.get(name) or ""
    return algo, arg(call, "data", 0) or arg(call, "string")


def _password_input(ctx: RuleContext, data: ast.expr | None) -> str | None:
    if data is None or isinstance(data, ast.Constant):
        return None
    hit = mentions(data, PASSWORD_NAME, frozenset({"len"}))
    if hit:
        return hit
    if (
        ctx.func is not None
        and _PASSWORD_FUNC.search(ctx.func.name)
        and "hash" in (ctx.func.name.lower())
    ):
        return ctx.func.name
    return None


_HASH_KEYS = (*_WEAK_HASHES, *_FAST_HASHES, "hashlib.new", "update")


@rule(
    id="SE201",
    cwe="CWE-328",
    severity="medium",
    keys=_HASH_KEYS,
    message="Password hashed with a broken hash (MD5/SHA-1): fast and collision-prone, "
    "cracked offline in seconds",
    fix="hash passwords with a slow, salted KDF: argon2-cffi, bcrypt, or "
    "hashlib.scrypt / pbkdf2_hmac with >= 600000 iterations",
)
def weak_password_hash(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    algo, data = _hash_input(ctx, call, ctx.call_name(call))
    if algo not in _WEAK_NAMES:
        return
    what = _password_input(ctx, data)
    if what:
        yield ctx.hit(detail=f"{algo} of {what}")


@rule(
    id="SE202",
    cwe="CWE-916",
    severity="medium",
    keys=_HASH_KEYS,
    message="Password hashed with a single fast hash (SHA-2/SHA-3/BLAKE2) instead of a "
    "password KDF: GPUs try billions of guesses per second",
    fix="use argon2-cffi, bcrypt, or hashlib.scrypt / pbkdf2_hmac with a random salt",
)
def fast_password_hash(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    algo, data = _hash_input(ctx, call, ctx.call_name(call))
    if not algo or algo in _WEAK_NAMES:
        return
    what = _password_input(ctx, data)
    if what:
        yield ctx.hit(detail=f"{algo} of {what}")


_WEAK_CIPHERS = (
    "Crypto.Cipher.DES.new",
    "Crypto.Cipher.DES3.new",
    "Crypto.Cipher.ARC4.new",
    "Crypto.Cipher.ARC2.new",
    "Crypto.Cipher.Blowfish.new",
    "Crypto.Cipher.CAST.new",
    "Crypto.Cipher.XOR.new",
    "cryptography.hazmat.primitives.ciphers.algorithms.TripleDES",
    "cryptography.hazmat.primitives.ciphers.algorithms.ARC4",
    "cryptography.hazmat.primitives.ciphers.algorithms.Blowfish",
    "cryptography.hazmat.primitives.ciphers.algorithms.IDEA",
    "cryptography.hazmat.primitives.ciphers.algorithms.CAST5",
    "cryptography.hazmat.primitives.ciphers.algorithms.SEED",
    "cryptography.hazmat.decrepit.ciphers.algorithms.TripleDES",
    "cryptography.hazmat.decrepit.ciphers.algorithms.ARC4",
    "cryptography.hazmat.decrepit.ciphers.algorithms.Blowfish",
    "cryptography.hazmat.decrepit.ciphers.algorithms.IDEA",
    "cryptography.hazmat.decrepit.ciphers.algorithms.CAST5",
    "cryptography.hazmat.decrepit.ciphers.algorithms.SEED",
    "pyDes.des",
    "pyDes.triple_des",
)

CRYPTO_PATTERNS: list[CallPattern] = [
    CallPattern(
        id="SE203",
        cwe="CWE-327",
        severity="medium",
        calls=_WEAK_CIPHERS,
        message="Broken or weak cipher (DES, 3DES, RC4, RC2, Blowfish, IDEA, CAST)",
        fix="use AES-GCM or ChaCha20-Poly1305 (cryptography's AESGCM / ChaCha20Poly1305)",
    ),
    CallPattern(
        id="SE204",
        cwe="CWE-327",
        severity="medium",
        calls=(
            "Crypto.Cipher.AES.new",
            "Crypto.Cipher.DES3.new",
            "Crypto.Cipher.Blowfish.new",
            "cryptography.hazmat.primitives.ciphers.modes.ECB",
        ),
        when=(
            AnyOf(
                (
                    CallIs(("cryptography.hazmat.primitives.ciphers.modes.ECB",)),
                    Is(Arg("mode", 1), (Q("MODE_ECB"),)),
                )
            ),
        ),
        message="ECB mode encrypts equal blocks to equal ciphertext and leaks patterns",
        fix="use an authenticated mode (AES-GCM) with a random nonce per message",
    ),
    CallPattern(
        id="SE210",
        cwe="CWE-780",
        severity="medium",
        calls=("Crypto.Cipher.PKCS1_v1_5.new", "encrypt"),
        when=(
            AnyOf(
                (
                    CallIs(("Crypto.Cipher.PKCS1_v1_5.new",)),
                    Is(
                        Arg("padding", 1),
                        (Q("cryptography.hazmat.primitives.asymmetric.padding.PKCS1v15"),),
                    ),
                )
            ),
        ),
        message="RSA encryption with PKCS#1 v1.5 padding is open to padding-oracle attacks "
        "(Bleichenbacher)",
        fix="use OAEP padding: PKCS1_OAEP.new(key) or padding.OAEP(mgf=MGF1(SHA256()), ...)",
    ),
    CallPattern(
        id="SE211",
        cwe="CWE-916",
        severity="medium",
        calls=(
            "hashlib.pbkdf2_hmac",
            "cryptography.hazmat.primitives.kdf.pbkdf2.PBKDF2HMAC",
            "Crypto.Protocol.KDF.PBKDF2",
        ),
        when=(AnyOf((Below(Arg("iterations", 3), 100_000), Below(Arg("count", 3), 100_000))),),
        message="PBKDF2 with too few iterations makes password guessing cheap",
        fix="use >= 600000 iterations for PBKDF2-HMAC-SHA256 (OWASP), or argon2/scrypt",
    ),
]
register_call_patterns(CRYPTO_PATTERNS)

_KEY_SIZE_ARGS: dict[str, tuple[str, int]] = {
    "cryptography.hazmat.primitives.asymmetric.rsa.generate_private_key": ("key_size", 1),
    "cryptography.hazmat.primitives.asymmetric.dsa.generate_private_key": ("key_size", 0),
    "cryptography.hazmat.primitives.asymmetric.dsa.generate_parameters": ("key_size", 0),
    "Crypto.PublicKey.RSA.generate": ("bits", 0),
    "Crypto.PublicKey.DSA.generate": ("bits", 0),
    "rsa.newkeys": ("nbits", 0),
    "generate_key": ("bits", 1),
}


@rule(
    id="SE205",
    cwe="CWE-326",
    severity="medium",
    keys=tuple(_KEY_SIZE_ARGS),
    message="RSA/DSA key smaller than 2048 bits can be factored with practical effort",
    fix="generate RSA/DSA keys of at least 2048 bits (3072+ for long-lived keys) or use "
    "Ed25519/ECDSA P-256",
)
def small_key(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    name = ctx.call_name(call)
    spec = _KEY_SIZE_ARGS.get(name)
    if spec is None:
        last = name.rsplit(".", 1)[-1]
        if last != "generate_key" or ("OpenSSL" not in name and "PKey" not in name):
            return
        spec = _KEY_SIZE_ARGS["generate_key"]
    size = ctx.const(arg(call, spec[0], spec[1]))
    if type(size) is int and size < 2048:
        yield ctx.hit(detail=f"{size} bits")


_RANDOM_FUNCS = (
    tuple(
        f"random.{n}"
        for n in (
            "random",
            "randint",
            "randrange",
            "choice",
            "choices",
            "sample",
            "getrandbits",
            "uniform",
            "shuffle",
            "randbytes",
        )
    )
    + tuple(
        f"random.Random.{n}"
        for n in (
            "random",
            "randint",
            "randrange",
            "choice",
            "choices",
            "sample",
            "getrandbits",
            "randbytes",
        )
    )
    + ("numpy.random.randint", "numpy.random.choice", "numpy.random.bytes")
)
_SECURITY_VALUE = re.compile(
    r"(?i)token|passw|pwd|secret|salt|nonce|otp|one_time|api_?key|session|csrf|reset|"
    r"verification|verify_code|auth|\bkey\b|_key\b|^key_|\biv\b|credential|invite_code|"
    r"activation|confirm"
)


_SECURITY_FUNC = re.compile(
    r"(?i)token|passw|secret|salt|nonce|otp|api_?key|session_?(id|key)|reset|verification|"
    r"csrf|(gen(erate)?|make|create|new)_?(key|code|pin)|keygen"
)


def _assigned_names(stmt: ast.stmt | None) -> list[str]:
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in [dotted(t) or ""] if n]
    if isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        return [dotted(stmt.target) or ""]
    return []


@rule(
    id="SE206",
    cwe="CWE-338",
    severity="medium",
    keys=_RANDOM_FUNCS,
    message="Predictable PRNG (random module) used for a security value (token, password, "
    "key, OTP, salt)",
    fix="use the secrets module: secrets.token_urlsafe(), secrets.choice(), secrets.randbelow()",
)
def weak_random(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    if ctx.call_name(call) not in _RANDOM_FUNCS:
        return
    for name in _assigned_names(ctx.stmt):
        if _SECURITY_VALUE.search(name.rsplit(".", 1)[-1]):
            yield ctx.hit(detail=f"assigned to {name}")
            return
    name = ctx.func.name if ctx.func is not None else ""
    if name and not name.startswith("test") and _SECURITY_FUNC.search(name):
        yield ctx.hit(detail=f"in {name}()")


_IV_ARGS: dict[str, tuple[str, int]] = {
    "Crypto.Cipher.AES.new": ("iv", 2),
    "Crypto.Cipher.DES3.new": ("iv", 2),
    "Crypto.Cipher.Blowfish.new": ("iv", 2),
    "cryptography.hazmat.primitives.ciphers.modes.CBC": ("initialization_vector", 0),
    "cryptography.hazmat.primitives.ciphers.modes.CFB": ("initialization_vector", 0),
    "cryptography.hazmat.primitives.ciphers.modes.CFB8": ("initialization_vector", 0),
    "cryptography.hazmat.primitives.ciphers.modes.OFB": ("initialization_vector", 0),
    "cryptography.hazmat.primitives.ciphers.modes.CTR": ("nonce", 0),
    "cryptography.hazmat.primitives.ciphers.modes.GCM": ("initialization_vector", 0),
    "cryptography.hazmat.primitives.ciphers.aead.AESGCM.encrypt": ("nonce", 0),
    "cryptography.hazmat.primitives.ciphers.aead.ChaCha20Poly1305.encrypt": ("nonce", 0),
}


def _literal_bytes(ctx: RuleContext, expr: ast.AST | None) -> bool:
    value = ctx.const(expr)
    return isinstance(value, str | bytes) and len(value) > 0


@rule(
    id="SE207",
    cwe="CWE-1204",
    severity="medium",
    keys=(*_IV_ARGS, "encrypt"),
    message="Hard-coded (constant) IV/nonce: identical plaintexts give identical ciphertexts "
    "and nonce reuse breaks CTR/GCM entirely",
    fix="generate a fresh random IV/nonce per message (os.urandom(16) / get_random_bytes) "
    "and store it with the ciphertext",
)
def hardcoded_iv(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    spec = _IV_ARGS.get(ctx.call_name(call))
    if spec is None:
        return
    value = arg(call, spec[0], spec[1]) or arg(call, "IV") or arg(call, "nonce")
    if _literal_bytes(ctx, value):
        yield ctx.hit()


_SALT_ARGS: dict[str, tuple[str, int]] = {
    "hashlib.pbkdf2_hmac": ("salt", 2),
    "hashlib.scrypt": ("salt", 99),
    "cryptography.hazmat.primitives.kdf.pbkdf2.PBKDF2HMAC": ("salt", 2),
    "cryptography.hazmat.primitives.kdf.scrypt.Scrypt": ("salt", 0),
    "cryptography.hazmat.primitives.kdf.hkdf.HKDF": ("salt", 2),
    "Crypto.Protocol.KDF.PBKDF2": ("salt", 1),
    "Crypto.Protocol.KDF.scrypt": ("salt", 1),
    "bcrypt.hashpw": ("salt", 1),
    "bcrypt.kdf": ("salt", 1),
    "argon2.low_level.hash_secret": ("salt", 1),
}


@rule(
    id="SE208",
    cwe="CWE-760",
    severity="medium",
    keys=tuple(_SALT_ARGS),
    message="Hard-coded salt: every password gets the same salt, so one precomputed table "
    "cracks them all",
    fix="use a random per-password salt (os.urandom(16) / bcrypt.gensalt()) stored next to "
    "the hash",
)
def hardcoded_salt(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    spec = _SALT_ARGS.get(ctx.call_name(call))
    if spec is None:
        return
    if _literal_bytes(ctx, arg(call, spec[0], spec[1])):
        yield ctx.hit()


_KEY_ARGS: dict[str, tuple[str, int]] = {
    "cryptography.fernet.Fernet": ("key", 0),
    "Crypto.Cipher.AES.new": ("key", 0),
    "Crypto.Cipher.DES.new": ("key", 0),
    "Crypto.Cipher.DES3.new": ("key", 0),
    "Crypto.Cipher.ChaCha20.new": ("key", 99),
    "Crypto.Cipher.ChaCha20_Poly1305.new": ("key", 99),
    "Crypto.Cipher.Blowfish.new": ("key", 0),
    "Crypto.Cipher.ARC4.new": ("key", 0),
    "cryptography.hazmat.primitives.ciphers.algorithms.AES": ("key", 0),
    "cryptography.hazmat.primitives.ciphers.algorithms.ChaCha20": ("key", 0),
    "cryptography.hazmat.primitives.ciphers.aead.AESGCM": ("key", 0),
    "cryptography.hazmat.primitives.ciphers.aead.ChaCha20Poly1305": ("key", 0),
    "hmac.new": ("key", 0),
    "hmac.digest": ("key", 0),
    "jwt.encode": ("key", 1),
    "jwt.decode": ("key", 1),
    "jose.jwt.encode": ("key", 1),
    "jose.jwt.decode": ("key", 1),
    "itsdangerous.URLSafeTimedSerializer": ("secret_key", 0),
    "itsdangerous.URLSafeSerializer": ("secret_key", 0),
    "itsdangerous.TimestampSigner": ("secret_key", 0),
}


@rule(
    id="SE209",
    cwe="CWE-321",
    severity="high",
    keys=tuple(_KEY_ARGS),
    message="Hard-coded cryptographic key: anyone with the code can decrypt or forge data",
    fix="load keys from a secret manager or environment variable "
    "(os.environ['APP_KEY']) and rotate the leaked one",
)
def hardcoded_key(ctx: RuleContext) -> Iterator[Hit]:
    call = ctx.node
    assert isinstance(call, ast.Call)
    spec = _KEY_ARGS.get(ctx.call_name(call))
    if spec is None:
        return
    key = arg(call, spec[0], spec[1])
    if key is None:
        return
    if isinstance(key, ast.Name) and (
        secret_like_name(key.id, SECRET_NAME) or secret_like_name(key.id, PASSWORD_NAME)
    ):
        return  # reported where the name is assigned (SE401/SE402)
    value = ctx.const(key)
    if isinstance(value, str | bytes) and len(value) >= 4:
        yield ctx.hit()

"""``--encrypt``: AES-256-GCM encryption of the sensitive text in a run directory.

What is encrypted, per record (each value on its own, with a fresh random 96-bit nonce):

* ``<model>/samples.jsonl``: ``prompt``, ``completion``, ``code``
* ``<model>/agent_trials.jsonl``: every ``transcript[i].content``, every string inside
  ``claims``, and ``followup_answer`` (all text the model or the simulator wrote)
* ``prompts.jsonl``: ``content``

An encrypted value is the string ``enc:v1:<base64(nonce || ciphertext || tag)>``, so
each file stays one JSON object per line and each record keeps its schema: ids,
findings (rule ids, CWEs, severities), flags, latencies and token counts stay readable,
and everything that aggregates them (metrics, ``results.csv``, ``validate``, resume)
works on the encrypted files unchanged. The associated data of each value binds it to
its place: ``file kind + record key (model and prompt id, agent and trial id) + field``,
so a value copied to another record or field does not decrypt.

The key (32 bytes, given as base64 or hex) comes from ``--key-file PATH`` or the
environment variable ``SAFETY_EVAL_ENCRYPTION_KEY``; it is never written anywhere by
this module. ``encryption.json`` in the run directory records only the scheme and a
key fingerprint (``key_id``: a keyed hash that identifies, not reveals, the key) so a
wrong key is reported before anything is decrypted.

Not covered: ``report.html``, which repeats the text in clear (an encrypted run must
not keep one: render it from a decrypted copy, outside the run directory;
:func:`encrypt_run` removes it), and ``run.log`` (which holds no prompt or reply text).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

from safety_eval.errors import UserError
from safety_eval.ops.structured_logging import get_logger
from safety_eval.results.writers import JsonlAppender, atomic_write_json, atomic_write_text

__all__ = [
    "ENV_VAR",
    "MARKER_FILE",
    "PLAINTEXT_DERIVED",
    "PREFIX",
    "Cipher",
    "CryptoError",
    "DecryptError",
    "EncryptingAppender",
    "InvalidKeyError",
    "KeyMissingError",
    "RecordKind",
    "check_key",
    "cipher_for_run",
    "decrypt_run",
    "encrypt_run",
    "generate_key",
    "is_encrypted",
    "iter_decrypted",
    "parse_key",
    "read_marker",
    "record_is_encrypted",
    "run_is_encrypted",
    "write_key_file",
    "write_marker",
]

ENV_VAR = "SAFETY_EVAL_ENCRYPTION_KEY"
PREFIX = "enc:v1:"
MARKER_FILE = "encryption.json"
SCHEME = "aes-256-gcm"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

RecordKind = Literal["sample", "trial", "prompt"]
KIND_FILES: dict[str, str] = {
    "sample": "samples.jsonl",
    "trial": "agent_trials.jsonl",
    "prompt": "prompts.jsonl",
}
ENCRYPTED_FIELDS: dict[str, list[str]] = {
    "sample": ["prompt", "completion", "code"],
    "trial": ["transcript[].content", "claims.*", "followup_answer"],
    "prompt": ["content"],
}

HOW_TO = f"set {ENV_VAR} or pass --key-file"

log = get_logger("safety_eval.crypto")


class CryptoError(UserError):
    """Encryption or decryption cannot go on; the message says what to do."""


class KeyMissingError(CryptoError):
    """No key was given where one is needed."""


class InvalidKeyError(CryptoError):
    """The key given is not 32 bytes of base64 or hex."""


class DecryptError(CryptoError):
    """A value does not decrypt: wrong key, or the data was changed."""


# -- keys -------------------------------------------------------------------------------


def generate_key() -> str:
    """A new random 256-bit key, base64-encoded (what the env var and key file hold)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def parse_key(text: str | bytes) -> bytes:
    """32 key bytes from 64 hex digits or base64 (standard or URL-safe, padding optional).

    The error never repeats the key.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKeyError(
                "the encryption key must be base64 or hex text of 32 bytes"
            ) from None
    value = text.strip()
    if len(value) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in value):
        return bytes.fromhex(value)
    try:
        candidate = (value + "=" * (-len(value) % 4)).encode("ascii")
    except UnicodeEncodeError:
        candidate = b""
    for altchars in (None, b"-_"):
        try:
            raw = base64.b64decode(candidate, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == KEY_BYTES:
            return raw
    raise InvalidKeyError(
        f"the encryption key must be 32 bytes given as base64 or as 64 hex digits "
        f"(got {len(value)} characters that are neither); make one with "
        "`python -c 'from safety_eval.ops.crypto import generate_key; print(generate_key())'`"
    )


def write_key_file(path: Path, key: str | None = None) -> Path:
    """Create ``path`` (mode 0600, never overwriting) holding ``key`` or a new key.

    Refuses a folder that is a run directory (one holding ``run.json``).
    """
    if (path.parent / "run.json").exists():
        raise CryptoError(f"{path}: refusing to write a key into a run directory")
    text = key if key is not None else generate_key()
    parse_key(text)  # validate before writing
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
    return path


def _read_key_file(path: Path) -> bytes:
    try:
        info = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyMissingError(f"key file {path} not found; {HOW_TO}") from None
    except OSError as exc:
        raise KeyMissingError(f"cannot read key file {path}: {exc.strerror}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file is readable by other users; chmod 600 it", key_file=str(path))
    return parse_key(data)


def is_encrypted(value: object) -> bool:
    """True for an ``enc:v1:`` envelope string."""
    return isinstance(value, str) and value.startswith(PREFIX)


# -- the cipher -------------------------------------------------------------------------


def _aad(kind: str, record_key: str, field: str) -> bytes:
    return "\x1f".join(("safety-eval", "v1", KIND_FILES[kind], record_key, field)).encode()


def _as_dict(record: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(record, BaseModel):
        return record.model_dump(mode="json")
    return json.loads(json.dumps(dict(record), default=str))  # a deep, JSON-only copy


def _record_key(kind: str, record: Mapping[str, Any]) -> str:
    if kind == "sample":
        return f"{record.get('model', '')}\x1e{record.get('prompt_id', '')}"
    if kind == "trial":
        return f"{record.get('agent', '')}\x1e{record.get('trial_id', '')}"
    if kind == "prompt":
        return str(record.get("prompt_id", ""))
    raise ValueError(f"unknown record kind {kind!r}")


class Cipher:
    """AES-256-GCM over single values; holds the key in memory only."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise InvalidKeyError("the encryption key must be exactly 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hmac.new(key, b"safety-eval key id v1", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Cipher(key_id={self.key_id})"

    @classmethod
    def from_key_text(cls, text: str | bytes) -> Cipher:
        return cls(parse_key(text))

    @classmethod
    def from_env_or_file(
        cls, key_file: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Cipher:
        """The key from ``key_file`` when given, else from ``SAFETY_EVAL_ENCRYPTION_KEY``."""
        if key_file is not None:
            return cls(_read_key_file(Path(key_file)))
        env = os.environ if environ is None else environ
        text = env.get(ENV_VAR, "").strip()
        if not text:
            raise KeyMissingError(f"no encryption key: {HOW_TO}")
        return cls(parse_key(text))

    # single values

    def encrypt_value(self, plaintext: str, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), aad)
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt_value(self, token: str, aad: bytes, where: str = "value") -> str:
        if not is_encrypted(token):
            raise DecryptError(f"{where}: not an {PREFIX} value")
        try:
            blob = base64.b64decode(token[len(PREFIX):].encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise DecryptError(f"{where}: malformed encrypted value") from None
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptError(f"{where}: malformed encrypted value (too short)")
        try:
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptError(
                f"{where}: cannot decrypt: wrong key, or the data was modified "
                f"(this run is encrypted; {HOW_TO} with the run's key)"
            ) from None
        return plain.decode("utf-8")

    # records

    def _transform(
        self, kind: str, record: Mapping[str, Any] | BaseModel, encrypt: bool
    ) -> dict[str, Any]:
        data = _as_dict(record)
        key = _record_key(kind, data)
        label = f"{KIND_FILES[kind]} record {key.replace(chr(0x1e), '/')}"

        def apply(value: Any, field: str) -> Any:
            if not isinstance(value, str):
                return value
            aad = _aad(kind, key, field)
            if encrypt:
                return value if is_encrypted(value) else self.encrypt_value(value, aad)
            return self.decrypt_value(value, aad, f"{label} field {field}") \
                if is_encrypted(value) else value

        if kind == "sample":
            for name in ("prompt", "completion", "code"):
                if name in data:
                    data[name] = apply(data[name], name)
        elif kind == "prompt":
            if "content" in data:
                data["content"] = apply(data["content"], "content")
        else:
            transcript = data.get("transcript")
            if isinstance(transcript, list):
                for index, turn in enumerate(transcript):
                    if isinstance(turn, dict) and "content" in turn:
                        turn["content"] = apply(turn["content"], f"transcript[{index}].content")
            if isinstance(data.get("claims"), dict):
                data["claims"] = _map_strings(data["claims"], "claims", apply)
            if "followup_answer" in data:
                data["followup_answer"] = apply(data["followup_answer"], "followup_answer")
        return data

    def encrypt_record(self, kind: RecordKind, record: Mapping[str, Any] | BaseModel
                       ) -> dict[str, Any]:
        return self._transform(kind, record, encrypt=True)

    def decrypt_record(self, kind: RecordKind, record: Mapping[str, Any] | BaseModel
                       ) -> dict[str, Any]:
        return self._transform(kind, record, encrypt=False)

    def encrypt_sample(self, sample: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return self._transform("sample", sample, encrypt=True)

    def decrypt_sample(self, sample: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return self._transform("sample", sample, encrypt=False)

    def encrypt_trial(self, trial: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return self._transform("trial", trial, encrypt=True)

    def decrypt_trial(self, trial: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return self._transform("trial", trial, encrypt=False)

    def encrypt_prompt(self, prompt: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return self._transform("prompt", prompt, encrypt=True)

    def decrypt_prompt(self, prompt: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return self._transform("prompt", prompt, encrypt=False)


def _map_strings(value: Any, path: str, fn: Callable[[Any, str], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _map_strings(v, f"{path}.{k}", fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, f"{path}[{i}]", fn) for i, v in enumerate(value)]
    return fn(value, path)


def record_is_encrypted(record: Mapping[str, Any], kind: RecordKind) -> bool:
    """True when the record's main text field holds an envelope."""
    if kind == "sample":
        return is_encrypted(record.get("completion")) or is_encrypted(record.get("prompt"))
    if kind == "prompt":
        return is_encrypted(record.get("content"))
    transcript = record.get("transcript") or []
    return any(isinstance(t, dict) and is_encrypted(t.get("content")) for t in transcript)


# -- files and run directories ----------------------------------------------------------


class EncryptingAppender(JsonlAppender):
    """A :class:`JsonlAppender` that encrypts each record before writing it."""

    def __init__(self, path: Path, cipher: Cipher, kind: RecordKind) -> None:
        super().__init__(path)
        self.cipher = cipher
        self.kind: RecordKind = kind

    def append(self, record: BaseModel | Mapping[str, Any]) -> None:
        super().append(self.cipher.encrypt_record(self.kind, record))


def iter_decrypted(path: Path, cipher: Cipher | None, kind: RecordKind) -> Iterator[dict[str, Any]]:
    """The records of a JSONL file, decrypted (plaintext records pass through).

    ``cipher=None`` on an encrypted record raises :class:`KeyMissingError`. A last line
    cut short by a crash is skipped, as in ``iter_samples``.
    """
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if not line.endswith("\n"):
                    return
                raise
            if cipher is None:
                if record_is_encrypted(record, kind):
                    raise KeyMissingError(f"{path} is encrypted; {HOW_TO}")
                yield record
            else:
                yield cipher.decrypt_record(kind, record)


def _run_files(run_dir: Path) -> list[tuple[Path, RecordKind]]:
    files: list[tuple[Path, RecordKind]] = []
    if (run_dir / KIND_FILES["prompt"]).is_file():
        files.append((run_dir / KIND_FILES["prompt"], "prompt"))
    for child in sorted(run_dir.iterdir()):
        if child.is_dir() and not child.is_symlink():
            kinds: tuple[RecordKind, ...] = ("sample", "trial")
            for kind in kinds:
                path = child / KIND_FILES[kind]
                if path.is_file():
                    files.append((path, kind))
    return files


def _with(
    method: Callable[[RecordKind, dict[str, Any]], dict[str, Any]], kind: RecordKind
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda record: method(kind, record)


def _rewrite(path: Path, transform: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    lines = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                lines.append(json.dumps(transform(json.loads(line)), ensure_ascii=False) + "\n")
    atomic_write_text(path, "".join(lines))


def write_marker(run_dir: Path, cipher: Cipher) -> Path:
    """``encryption.json``: scheme, fields and key fingerprint; never the key."""
    path = run_dir / MARKER_FILE
    atomic_write_json(path, {
        "scheme": SCHEME,
        "envelope": PREFIX.rstrip(":"),
        "key_id": cipher.key_id,
        "key_source": f"{ENV_VAR} or --key-file (never stored here)",
        "fields": {KIND_FILES[k]: v for k, v in ENCRYPTED_FIELDS.items()},
    })
    return path


def read_marker(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / MARKER_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CryptoError(f"{path}: unreadable ({exc})") from None
    return data if isinstance(data, dict) else None


def run_is_encrypted(run_dir: Path) -> bool:
    return read_marker(run_dir) is not None


def check_key(run_dir: Path, cipher: Cipher) -> None:
    """Raise :class:`DecryptError` when ``cipher`` is not the key the run was made with."""
    marker = read_marker(run_dir)
    if marker is None:
        return
    if marker.get("key_id") and not hmac.compare_digest(str(marker["key_id"]), cipher.key_id):
        raise DecryptError(
            f"{run_dir}: this run was encrypted with another key (key_id "
            f"{marker['key_id']}, given {cipher.key_id}); {HOW_TO} with the run's key"
        )


def cipher_for_run(
    run_dir: Path, key_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Cipher | None:
    """The cipher to read ``run_dir`` with: None for a plaintext run; for an encrypted
    run the configured key, checked against the run's fingerprint."""
    if not run_is_encrypted(run_dir):
        return None
    try:
        cipher = Cipher.from_env_or_file(key_file, environ)
    except KeyMissingError:
        raise KeyMissingError(f"{run_dir}: this run is encrypted; {HOW_TO}") from None
    check_key(run_dir, cipher)
    return cipher


PLAINTEXT_DERIVED = ("report.html",)
"""Files rendered from the samples that repeat their text (removed by encrypt_run)."""


def encrypt_run(run_dir: Path, cipher: Cipher, remove_derived: bool = True) -> list[Path]:
    """Encrypt an existing run in place (idempotent: envelopes are left alone).

    Returns the files rewritten. ``report.html`` repeats prompts and replies in clear:
    it is removed (render it again from :func:`decrypt_run`'s copy), or with
    ``remove_derived=False`` kept and reported in the log.
    """
    check_key(run_dir, cipher)
    done = []
    for path, kind in _run_files(run_dir):
        _rewrite(path, _with(cipher.encrypt_record, kind))
        done.append(path)
    write_marker(run_dir, cipher)
    for name in PLAINTEXT_DERIVED:
        path = run_dir / name
        if not path.exists():
            continue
        if remove_derived:
            path.unlink()
            log.info("plaintext report removed from the encrypted run", file=name)
        else:
            log.warning("file still holds plaintext; delete or re-render it", file=name,
                        run_dir=str(run_dir))
    return done


def decrypt_run(run_dir: Path, out_dir: Path, cipher: Cipher) -> Path:
    """A decrypted copy of ``run_dir`` in ``out_dir`` (which must not exist)."""
    import shutil

    check_key(run_dir, cipher)
    if out_dir.exists():
        raise CryptoError(f"{out_dir} already exists")
    shutil.copytree(run_dir, out_dir, symlinks=True)
    with contextlib.suppress(FileNotFoundError):
        (out_dir / MARKER_FILE).unlink()
    for path, kind in _run_files(out_dir):
        _rewrite(path, _with(cipher.decrypt_record, kind))
    return out_dir

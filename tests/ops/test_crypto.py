"""crypto: per-field AES-256-GCM envelopes over a real run's files."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from safety_eval.agent import Trial, agent_metrics
from safety_eval.ops.crypto import (
    ENV_VAR,
    MARKER_FILE,
    PREFIX,
    Cipher,
    DecryptError,
    EncryptingAppender,
    InvalidKeyError,
    KeyMissingError,
    check_key,
    cipher_for_run,
    decrypt_run,
    encrypt_run,
    generate_key,
    is_encrypted,
    iter_decrypted,
    parse_key,
    run_is_encrypted,
    write_key_file,
)
from safety_eval.results.aggregate import ModelAggregate
from safety_eval.results.records import Sample
from safety_eval.results.validate import validate_run
from safety_eval.results.writers import iter_samples
from tests.ops.conftest import all_text, read_jsonl

KEY = generate_key()


def _sensitive_lines(texts: list[str], allowed: str) -> set[str]:
    """Whole texts and their longer lines, except lines that also occur in the
    record's non-sensitive fields (rule messages may quote a call)."""
    found = set()
    for text in texts:
        if len(text) >= 8:
            found.add(json.dumps(text)[1:-1])
        for line in text.splitlines():
            line = line.strip()
            if len(line) >= 16 and line not in allowed:
                found.add(json.dumps(line)[1:-1])
    return found


def test_keys_parse_from_base64_urlsafe_and_hex() -> None:
    raw = os.urandom(32)
    assert parse_key(base64.b64encode(raw).decode()) == raw
    assert parse_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert parse_key(raw.hex()) == raw
    assert parse_key(raw.hex().upper() + "\n") == raw
    assert len(parse_key(generate_key())) == 32
    for bad in ("", "short", base64.b64encode(b"x" * 16).decode(), "zz" * 32, "é" * 44):
        with pytest.raises(InvalidKeyError) as info:
            parse_key(bad)
        assert bad == "" or bad not in str(info.value)  # the key is never echoed


def test_key_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyMissingError, match=f"{ENV_VAR}.*--key-file"):
        Cipher.from_env_or_file()
    monkeypatch.setenv(ENV_VAR, KEY)
    from_env = Cipher.from_env_or_file()
    key_file = write_key_file(tmp_path / "keys" / "run.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    from_file = Cipher.from_env_or_file(key_file)  # the file wins over the environment
    assert from_env.key_id != from_file.key_id
    assert from_file.key_id == Cipher.from_key_text(key_file.read_text()).key_id
    assert KEY not in repr(from_env)
    with pytest.raises(FileExistsError):
        write_key_file(key_file)
    with pytest.raises(KeyMissingError, match="not found"):
        Cipher.from_env_or_file(tmp_path / "missing.key")
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(Exception, match="run directory"):
        write_key_file(tmp_path / "inside.key")


def test_real_samples_are_unreadable_on_disk_and_round_trip(mock_run: Path, tmp_path: Path
                                                            ) -> None:
    cipher = Cipher.from_key_text(KEY)
    source = mock_run / "mock" / "samples.jsonl"
    originals = read_jsonl(source)
    target = tmp_path / "enc" / "samples.jsonl"
    with EncryptingAppender(target, cipher, "sample") as out:
        for sample in iter_samples(source):
            out.append(sample)
    raw = target.read_bytes().decode("utf-8")
    for original, line in zip(originals, raw.splitlines(), strict=True):
        record = json.loads(line)
        allowed = json.dumps({k: v for k, v in original.items()
                              if k not in ("prompt", "completion", "code")})
        for secret in _sensitive_lines(
                [str(original[k]) for k in ("prompt", "completion", "code")], allowed):
            assert secret not in line, f"plaintext {secret!r} found in the encrypted file"
        for field in ("prompt", "completion", "code"):
            assert is_encrypted(record[field])
        # what aggregation needs stays readable
        for field in ("prompt_id", "model", "findings", "hallucinations", "parse_mode",
                      "latency_s", "tokens", "error"):
            assert record[field] == original[field]
    # the encrypted file is still a valid samples file, and aggregates identically
    encrypted_agg, plain_agg = ModelAggregate("mock"), ModelAggregate("mock")
    for sample in iter_samples(target):
        encrypted_agg.add(sample)
    for sample in iter_samples(source):
        plain_agg.add(sample)
    assert encrypted_agg.metrics() == plain_agg.metrics()
    # decryption restores every record exactly
    assert list(iter_decrypted(target, cipher, "sample")) == originals
    with pytest.raises(KeyMissingError):
        list(iter_decrypted(target, None, "sample"))
    assert [Sample.model_validate(r) for r in iter_decrypted(target, cipher, "sample")] == \
        list(iter_samples(source))


def test_nonces_are_fresh() -> None:
    cipher = Cipher.from_key_text(KEY)
    record = {"prompt_id": "p", "model": "m", "prompt": "same", "completion": "same",
              "code": "same"}
    one, two = cipher.encrypt_sample(record), cipher.encrypt_sample(record)
    assert one["prompt"] != two["prompt"] and one["completion"] != one["code"]
    assert cipher.encrypt_sample(one) == one  # envelopes are never encrypted twice


def test_wrong_key_and_tampering_fail_clearly(mock_run: Path) -> None:
    cipher = Cipher.from_key_text(KEY)
    first, second = read_jsonl(mock_run / "mock" / "samples.jsonl")[:2]
    sealed = cipher.encrypt_sample(first)
    other = Cipher.from_key_text(generate_key())
    with pytest.raises(DecryptError, match="wrong key, or the data was modified"):
        other.decrypt_sample(sealed)
    blob = bytearray(base64.b64decode(sealed["completion"][len(PREFIX):]))
    blob[-1] ^= 1
    tampered = {**sealed, "completion": PREFIX + base64.b64encode(bytes(blob)).decode()}
    with pytest.raises(DecryptError, match="completion"):
        cipher.decrypt_sample(tampered)
    # an envelope moved to another field or another record does not decrypt (AAD)
    with pytest.raises(DecryptError):
        cipher.decrypt_sample({**sealed, "code": sealed["completion"]})
    with pytest.raises(DecryptError):
        cipher.decrypt_sample({**cipher.encrypt_sample(second), "prompt": sealed["prompt"]})
    with pytest.raises(DecryptError):  # the record key (prompt id) is bound too
        cipher.decrypt_sample({**sealed, "prompt_id": "SE-OTHER"})
    with pytest.raises(DecryptError, match="malformed"):
        cipher.decrypt_sample({**sealed, "code": PREFIX + "!!!"})
    with pytest.raises(DecryptError, match="too short"):
        cipher.decrypt_sample({**sealed, "code": PREFIX + base64.b64encode(b"x").decode()})


def test_trials_keep_their_schema_and_round_trip(mock_run: Path) -> None:
    cipher = Cipher.from_key_text(KEY)
    originals = read_jsonl(mock_run / "mock" / "agent_trials.jsonl")
    sealed = [cipher.encrypt_trial(t) for t in originals]
    text = json.dumps(sealed)
    for trial in originals:
        for turn in trial["transcript"]:
            for line in str(turn["content"]).splitlines():
                if len(line.strip()) >= 24:
                    assert json.dumps(line.strip())[1:-1] not in text
        assert json.dumps(trial["claims"]["report"])[1:-1] not in text
    for record in sealed:
        assert all(is_encrypted(t["content"]) for t in record["transcript"])
        assert {t["role"] for t in record["transcript"]} <= {"simulator", "agent", "tool",
                                                             "system", "user", "assistant"}
        assert is_encrypted(record["claims"]["report"])
        assert record["claims"]["changes_made"] in (True, False, None)
    encrypted_trials = [Trial.model_validate(r) for r in sealed]
    plain_trials = [Trial.model_validate(r) for r in originals]
    assert agent_metrics(encrypted_trials) == agent_metrics(plain_trials)
    assert [cipher.decrypt_trial(r) for r in sealed] == originals


def test_a_whole_run_encrypted_in_place(mock_run: Path, mock_run_master: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cipher = Cipher.from_key_text(KEY)
    had_report = (mock_run / "report.html").exists()
    done = encrypt_run(mock_run, cipher)
    assert not (mock_run / "report.html").exists()  # it repeated the text in clear
    assert {p.name for p in done} == {"prompts.jsonl", "samples.jsonl", "agent_trials.jsonl"}
    assert run_is_encrypted(mock_run) and not run_is_encrypted(mock_run_master)
    marker = json.loads((mock_run / MARKER_FILE).read_text())
    assert marker["key_id"] == cipher.key_id and marker["scheme"] == "aes-256-gcm"
    # the key is nowhere in the run directory, in any encoding
    raw_key = parse_key(KEY)
    everything = all_text(mock_run)
    assert KEY not in everything and raw_key.hex() not in everything
    assert all(raw_key not in p.read_bytes() for p in mock_run.rglob("*") if p.is_file())
    prompts = read_jsonl(mock_run / "prompts.jsonl")
    assert all(is_encrypted(p["content"]) for p in prompts)
    for prompt in read_jsonl(mock_run_master / "prompts.jsonl"):
        assert json.dumps(prompt["content"])[1:-1] not in everything
    # still a valid run: the checks recompute every metric from the encrypted samples
    expected = [p for p in validate_run(mock_run_master)
                if not (had_report and "report.html" in p)]
    assert [p for p in validate_run(mock_run) if "report.html" not in p] == expected
    # opening it needs the right key
    with pytest.raises(KeyMissingError, match="this run is encrypted"):
        cipher_for_run(mock_run, environ={})
    with pytest.raises(DecryptError, match="another key"):
        check_key(mock_run, Cipher.from_key_text(generate_key()))
    monkeypatch.setenv(ENV_VAR, KEY)
    opened = cipher_for_run(mock_run)
    assert opened is not None and opened.key_id == cipher.key_id
    assert cipher_for_run(mock_run_master) is None
    assert encrypt_run(mock_run, cipher)  # idempotent
    plain = decrypt_run(mock_run, mock_run.parent / "plain", cipher)
    assert not run_is_encrypted(plain)
    for rel in ("prompts.jsonl", "mock/samples.jsonl", "mock/agent_trials.jsonl"):
        assert read_jsonl(plain / rel) == read_jsonl(mock_run_master / rel)

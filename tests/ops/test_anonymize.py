"""anonymize: planted secrets redacted, paths and hosts removed, everything else kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from safety_eval.models.registry import slug
from safety_eval.ops.anonymize import (
    MARKER,
    AnonymizeError,
    anonymize_spec,
    export_anonymized,
    redact,
    redact_text,
)
from safety_eval.ops.crypto import Cipher, KeyMissingError, encrypt_run, generate_key
from safety_eval.results.validate import validate_run
from tests.ops.conftest import HOST_MODEL, PATH_MODEL, SECRETS, all_text, read_jsonl


@pytest.mark.parametrize(
    ("text", "kind", "kept"),
    [
        ('key = "sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2"', "api_key", 'key = "'),
        ("AKIAQWERTYUIOPASDFGH", "aws_access_key", ""),
        ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "aws_secret_key",
         "aws_secret_access_key = \""),
        ("token ghp_0123456789abcdefghijABCDEFGHIJklmnop", "github_token", "token "),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_token", ""),
        ("xoxb-1234567890-abcdefghij", "slack_token", ""),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
         "private_key", ""),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ", "jwt", ""),
        ('password = "hunter2hunter2"', "password", 'password = "'),
        ("db_password: str = 'pa55word'", "password", "db_password: str = '"),
        ('connect(user="a", password="x1y2z3")', "password", 'password="'),
        ('{"api_key": "abc123def456"}', "secret", '{"api_key": "'),
        ('app.config["SECRET_KEY"] = "dev-key-123"', "secret", 'app.config["SECRET_KEY"] = "'),
        ("export API_TOKEN=abcd1234efgh", "secret", "export API_TOKEN="),
        ("Authorization: Bearer abcdef123456789", "bearer_token", "Authorization: Bearer "),
        ("postgres://bob:s3cret@db.internal/x", "url_credentials", "postgres://"),
        ("mail alice.secret@example.org now", "email", "mail "),
        ("host 10.20.30.40:8080", "ipv4", "host "),
        ("connect to 2001:db8:85a3::8a2e:370:7334 now", "ipv6", "connect to "),
        ("link fe80::1ff:fe23:4567:890a", "ipv6", "link "),
    ],
)
def test_each_kind_of_secret_is_redacted(text: str, kind: str, kept: str) -> None:
    redacted, counts = redact_text(text)
    assert f"[REDACTED:{kind}]" in redacted, redacted
    assert counts[kind] >= 1
    assert kept in redacted


@pytest.mark.parametrize(
    "text",
    [
        'password = request.form["password"]',
        'if password == "x": pass',
        "secret_key = os.environ['SECRET_KEY']",
        "app.run(host='0.0.0.0', port=8000)",
        "bind 127.0.0.1 and ::1",
        "rows[::2] and 12:30:45 and 00:1a:2b:3c:4d:5e",
        "@app.route('/login')",
        "version 3.11.7",
    ],
)
def test_ordinary_code_is_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mock", "mock"),
        ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b"),
        ("llamacpp:/home/a/m.gguf", "llamacpp:m.gguf"),
        ("llamacpp:./models/x.gguf", "llamacpp:x.gguf"),
        ("llamacpp:~/x.gguf", "llamacpp:x.gguf"),
        ("openai:gpt@http://10.0.0.5:8000/v1", "openai:gpt@[host]"),
        ("openai:org/model@https://api.example.com/v1", "openai:org/model@[host]"),
        ("hf:Qwen/Qwen2.5-Coder-7B", "hf:Qwen/Qwen2.5-Coder-7B"),
        ("vllm:/srv/models/llama", "vllm:llama"),
    ],
)
def test_model_specs_lose_paths_and_hosts(spec: str, expected: str) -> None:
    assert anonymize_spec(spec) == expected


def test_export_of_a_run_with_planted_secrets(secret_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    report = export_anonymized(secret_run, out)
    text = all_text(out)
    for name, secret in SECRETS.items():
        assert secret not in text, f"{name} secret survived"
    for leak in ("/home/alice", "10.0.0.5", "secret-model-q4.gguf/", str(secret_run.parent),
                 "alice.secret"):
        assert leak not in text, leak
    for kind in ("api_key", "aws_access_key", "github_token", "jwt", "password",
                 "bearer_token", "email", "ipv4", "ipv6", "private_key"):
        assert report.redactions[kind] > 0, kind
    # model folders follow the anonymized specs
    path_spec, host_spec = "llamacpp:secret-model-q4.gguf", "openai:gpt-lab@[host]"
    assert report.models == {PATH_MODEL: path_spec, HOST_MODEL: host_spec}
    assert {p.name for p in out.iterdir() if p.is_dir()} == {slug(path_spec), slug(host_spec)}
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["anonymized"] is True
    assert [m["spec"] for m in manifest["models"]] == [path_spec, host_spec]
    assert [m["slug"] for m in manifest["models"]] == [slug(path_spec), slug(host_spec)]
    assert manifest["models"][0]["file"] == "secret-model-q4.gguf"
    assert manifest["models"][0]["sha256"] == "ab" * 32  # hashes identify no one: kept
    assert manifest["config"]["output"] == "[removed]"
    assert manifest["config"]["models"] == [path_spec, host_spec]
    assert all("pid" not in attempt for attempt in manifest["attempts"])
    # the samples are still samples: ids, findings and redacted text
    samples = read_jsonl(out / slug(path_spec) / "samples.jsonl")
    originals = read_jsonl(secret_run / slug(PATH_MODEL) / "samples.jsonl")
    assert [s["prompt_id"] for s in samples] == [s["prompt_id"] for s in originals]
    assert [s["findings"] for s in samples] == [s["findings"] for s in originals]
    assert all(s["model"] == path_spec for s in samples)
    assert "[REDACTED:api_key]" in str(samples[0]["code"])
    assert "[REDACTED:email]" in str(samples[0]["prompt"])
    # the marker says what was done
    marker = json.loads((out / MARKER).read_text())
    assert marker["anonymized"] is True and marker["redactions"]["email"] > 0
    # the export is a run directory as valid as the one it came from
    assert len(validate_run(out)) == len(validate_run(secret_run))


def test_every_other_file_is_copied(mock_run: Path, tmp_path: Path) -> None:
    (mock_run / "notes.txt").write_text("contact ops@example.org\n")
    (mock_run / "mock" / "blob.bin").write_bytes(b"\x00\x01binary")
    out = tmp_path / "export"
    export_anonymized(mock_run, out)
    source = {p.relative_to(mock_run).as_posix() for p in mock_run.rglob("*") if p.is_file()}
    copied = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert copied == source | {MARKER}
    assert (out / "mock" / "blob.bin").read_bytes() == b"\x00\x01binary"
    assert (out / "notes.txt").read_text() == "contact [REDACTED:email]\n"
    assert (out / "mock" / "top_cwes.png").read_bytes() == \
        (mock_run / "mock" / "top_cwes.png").read_bytes()  # the spec did not change
    trials = read_jsonl(out / "mock" / "agent_trials.jsonl")
    assert trials and all(t["transcript"] for t in trials)
    if (mock_run / "report.html").exists():  # re-rendered from the anonymized data
        assert "<html" in (out / "report.html").read_text()


def test_an_encrypted_run_needs_its_key(secret_run: Path, tmp_path: Path) -> None:
    cipher = Cipher.from_key_text(generate_key())
    encrypt_run(secret_run, cipher)
    with pytest.raises(KeyMissingError, match="SAFETY_EVAL_ENCRYPTION_KEY"):
        export_anonymized(secret_run, tmp_path / "no-key")
    assert not (tmp_path / "no-key").exists()
    report = export_anonymized(secret_run, tmp_path / "export", cipher)
    assert report.decrypted
    text = all_text(tmp_path / "export")
    assert "enc:v1:" not in text and not (tmp_path / "export" / "encryption.json").exists()
    assert "[REDACTED:api_key]" in text
    for secret in SECRETS.values():
        assert secret not in text


def test_target_folder_rules(mock_run: Path, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(AnonymizeError, match="refusing to overwrite"):
        export_anonymized(mock_run, busy)
    assert (busy / "keep.txt").read_text() == "mine"
    with pytest.raises(AnonymizeError, match="differ"):
        export_anonymized(mock_run, mock_run)
    with pytest.raises(AnonymizeError, match="not a run"):
        export_anonymized(tmp_path, tmp_path / "x")
    out = tmp_path / "again"
    export_anonymized(mock_run, out)
    (out / "stale.txt").write_text("old")
    export_anonymized(mock_run, out)  # an earlier export is replaced as a whole
    assert not (out / "stale.txt").exists() and (out / MARKER).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".again")]
    # an export kept inside the run is not exported again
    export_anonymized(mock_run, mock_run / "anonymized")
    nested = tmp_path / "nested"
    export_anonymized(mock_run, nested)
    assert not (nested / "anonymized").exists()


def test_links_out_of_the_run_are_not_followed(mock_run: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("TOP SECRET outside the run")
    os.symlink(outside, mock_run / "mock" / "leak.txt")
    report = export_anonymized(mock_run, tmp_path / "export")
    assert not (tmp_path / "export" / "mock" / "leak.txt").exists()
    assert any("leak.txt" in item for item in report.dropped)
    assert "TOP SECRET" not in all_text(tmp_path / "export")


def test_specs_differing_only_in_host_stay_distinct() -> None:
    from safety_eval.ops.anonymize import spec_map

    mapping = spec_map(["openai:m@http://10.0.0.1/v1", "openai:m@http://10.0.0.2/v1", "mock"])
    assert mapping == {"mock": "mock", "openai:m@http://10.0.0.1/v1": "openai:m@[host]",
                       "openai:m@http://10.0.0.2/v1": "openai:m@[host]#2"}

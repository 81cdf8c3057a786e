"""The operations commands through the real command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from safety_eval.models.mock import mock_reply
from safety_eval.ops.crypto import generate_key
from tests.pipeline.conftest import cli


@pytest.fixture(scope="module")
def key() -> str:
    return generate_key()


@pytest.fixture(scope="module")
def encrypted_run(tmp_path_factory: pytest.TempPathFactory, key: str) -> Path:
    out = tmp_path_factory.mktemp("enc")
    result = cli("run", "-m", "mock", "--size", "15", "--trials", "2", "--encrypt", "--batch",
                 "--output", str(out), env={"SAFETY_EVAL_ENCRYPTION_KEY": key})
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def test_encrypted_run_holds_no_plaintext(encrypted_run: Path, key: str) -> None:
    prompts = [json.loads(x)["prompt_id"] for x in
               (encrypted_run / "prompts.jsonl").read_text().splitlines()]
    assert len(prompts) == 15
    raw = b"".join(p.read_bytes() for p in encrypted_run.rglob("*") if p.is_file())
    assert key.encode() not in raw
    assert not (encrypted_run / "report.html").exists()
    from safety_eval.prompts import load_builtin

    by_id = {p.prompt_id: p.content for p in load_builtin()}
    for pid in prompts:
        assert by_id[pid].encode() not in raw  # the prompt text
    for line in (encrypted_run / "mock" / "samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        assert sample["completion"].startswith("enc:v1:")
        assert sample["code"] == "" or sample["code"].startswith("enc:v1:")
    replies = {mock_reply(by_id[pid], 0) for pid in prompts}
    for reply in replies:
        longest = max(reply.splitlines(), key=len)
        assert len(longest) > 30 and longest.encode() not in raw, longest
    # metrics stay readable and the run validates without the key
    assert cli("validate", str(encrypted_run)).returncode == 0


def test_reading_an_encrypted_run_needs_the_key(encrypted_run: Path, key: str,
                                                tmp_path: Path) -> None:
    for args in (["report", str(encrypted_run)], ["compare", str(encrypted_run)],
                 ["rescan", str(encrypted_run)]):
        result = cli(*args)
        assert result.returncode == 2, args
        assert "encrypted" in result.stderr and "SAFETY_EVAL_ENCRYPTION_KEY" in result.stderr
    wrong = cli("report", str(encrypted_run), env={"SAFETY_EVAL_ENCRYPTION_KEY": generate_key()})
    assert wrong.returncode == 2 and "another key" in wrong.stderr
    out = tmp_path / "r.html"
    ok = cli("report", str(encrypted_run), "--out", str(out),
             env={"SAFETY_EVAL_ENCRYPTION_KEY": key})
    assert ok.returncode == 0, ok.stderr
    assert "SE-" in out.read_text() and not (encrypted_run / "report.html").exists()


def test_encrypted_run_resumes_with_its_key(encrypted_run: Path, key: str, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / encrypted_run.name
    shutil.copytree(encrypted_run, copy)
    samples = copy / "mock" / "samples.jsonl"
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join(lines[:5]) + "\n")
    assert cli("run", "--resume", str(copy)).returncode == 2
    result = cli("run", "--resume", str(copy), env={"SAFETY_EVAL_ENCRYPTION_KEY": key})
    assert result.returncode == 0, result.stderr
    assert len(samples.read_text().splitlines()) == 15
    assert all(json.loads(x)["completion"].startswith("enc:v1:")
               for x in samples.read_text().splitlines())


def test_export_anonymized(tmp_path: Path) -> None:
    gens = tmp_path / "g.jsonl"
    secret = "sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2"
    gens.write_text(json.dumps({"prompt_id": "p", "model": "llamacpp:/home/bob/m.gguf",
                                "prompt": "write a client",
                                "completion": f"```python\nKEY = '{secret}'\n```"}) + "\n")
    run = cli("run", "--generations", str(gens), "--batch", "--output", str(tmp_path / "o"))
    run_dir = Path(run.stdout.strip().splitlines()[-1])
    assert secret in (run_dir / "llamacpp-home-bob-m.gguf" / "samples.jsonl").read_text()
    result = cli("export", str(run_dir), "--anonymize", "--out", str(tmp_path / "anon"))
    assert result.returncode == 0, result.stderr
    exported = b"".join(p.read_bytes() for p in (tmp_path / "anon").rglob("*") if p.is_file())
    assert secret.encode() not in exported and b"/home/bob" not in exported
    assert b"REDACTED" in exported
    assert cli("export", str(run_dir), "--out", str(tmp_path / "x")).returncode == 2


def test_archive_and_cleanup(tmp_path: Path) -> None:
    run = cli("run", "-m", "mock", "--size", "5", "--trials", "0", "--batch", "--output",
              str(tmp_path / "o"))
    run_dir = Path(run.stdout.strip().splitlines()[-1])
    archived = cli("archive", str(run_dir), "--dest", str(tmp_path))
    assert archived.returncode == 0, archived.stderr
    verified = cli("verify-archive", archived.stdout.strip())
    assert verified.returncode == 0 and "files OK" in verified.stdout
    old = os.path.getmtime(run_dir) - 40 * 86400
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["started_at"] = "2020-01-01T00:00:00+00:00"
    manifest["finished_at"] = "2020-01-01T00:01:00+00:00"
    (run_dir / "run.json").write_text(json.dumps(manifest))
    os.utime(run_dir, (old, old))
    dry = cli("cleanup", str(tmp_path / "o"), "--retention-days", "30", "--dry-run")
    assert dry.returncode == 0 and str(run_dir) in dry.stdout and run_dir.exists()
    real = cli("cleanup", str(tmp_path / "o"), "--retention-days", "30")
    assert real.returncode == 0 and not run_dir.exists()


def test_models_list_and_check(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("registry:\n  models:\n    - {name: fake, backend: mock}\n")
    listed = cli("models", "list", "--config", str(config))
    assert listed.returncode == 0 and "fake" in listed.stdout
    checked = cli("models", "check", "fake", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"] is True
    assert cli("models", "check", "nope", "--config", str(config)).returncode == 2

"""Bad input: a clear message naming the problem, exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.conftest import cli


def _assert_clean_refusal(result: object, *needles: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    err: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err and "Traceback" not in result.stdout  # type: ignore[attr-defined]
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize(
    ("name", "content", "needles"),
    [
        ("empty.csv", b"", ["empty.csv", "empty"]),
        ("bad.jsonl", b'{"prompt_id": "a", "content": "x"}\n{"prompt_id": \n', ["bad.jsonl",
                                                                                 "line 2"]),
        ("latin.csv", "prompt_id,content\n1,caf\xe9\n".encode("latin-1"), ["latin.csv",
                                                                          "UTF-8"]),
        ("nocontent.csv", b"prompt_id,category\n1,x\n", ["nocontent.csv", "content"]),
        ("dup.jsonl", b'{"prompt_id": "a", "content": "x"}\n{"prompt_id": "a", "content": "y"}\n',
         ["dup.jsonl", "duplicate"]),
    ],
)
def test_malformed_prompt_files(tmp_path: Path, name: str, content: bytes,
                                needles: list[str]) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("run", "-m", "mock", "--prompts", str(path), "--output", str(tmp_path / "o"),
                 "--batch")
    _assert_clean_refusal(result, *needles)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("run_*"))


def test_missing_prompt_file(tmp_path: Path) -> None:
    result = cli("run", "-m", "mock", "--prompts", str(tmp_path / "nope.csv"), "--batch",
                 "--output", str(tmp_path / "o"))
    _assert_clean_refusal(result, "nope.csv")


def test_unknown_model(tmp_path: Path) -> None:
    result = cli("run", "-m", "nosuch:thing", "--batch", "--output", str(tmp_path))
    _assert_clean_refusal(result, "unknown model 'nosuch:thing'")


def test_missing_gguf_is_caught_before_generating(tmp_path: Path) -> None:
    result = cli("run", "-m", "mock", "-m", f"llamacpp:{tmp_path / 'x.gguf'}", "--batch",
                 "--output", str(tmp_path / "o"))
    _assert_clean_refusal(result, "pre-flight failed", "model file not found")
    assert not list((tmp_path / "o").glob("run_*"))


def test_dead_openai_server_is_caught_before_generating(tmp_path: Path) -> None:
    from tests.conftest import free_port

    result = cli("run", "-m", f"openai:m@http://127.0.0.1:{free_port()}/v1", "--batch",
                 "--output", str(tmp_path / "o"))
    _assert_clean_refusal(result, "unreachable")


def test_output_path_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("run", "-m", "mock", "--output", str(blocker), "--batch")
    _assert_clean_refusal(result, "not writable")


def test_bad_size(tmp_path: Path) -> None:
    result = cli("run", "-m", "mock", "--size", "huge", "--batch", "--output", str(tmp_path))
    _assert_clean_refusal(result, "huge")


def test_unknown_config_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("models: [mock]\nbatchsize: 4\n")
    result = cli("run", "--config", str(config), "--batch", "--output", str(tmp_path))
    _assert_clean_refusal(result, "c.yaml", "unknown key 'batchsize'")


def test_invalid_yaml(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("models: [mock\n")
    result = cli("run", "--config", str(config), "--batch")
    _assert_clean_refusal(result, "c.yaml", "invalid YAML")


def test_insufficient_disk_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("models: [mock]\nmin_free_disk_mb: 100000000\n")
    result = cli("run", "--config", str(config), "--batch", "--output", str(tmp_path / "o"))
    _assert_clean_refusal(result, "not enough disk space")

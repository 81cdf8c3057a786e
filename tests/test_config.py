"""Layered configuration: defaults < YAML < environment < flags; unknown keys named."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety_eval.config import DEFAULT_MODEL, RunConfig, load_config
from safety_eval.errors import ConfigError


def test_defaults() -> None:
    cfg = load_config(environ={})
    assert cfg.models == [DEFAULT_MODEL]
    assert cfg.generation.temperature == 0.0
    assert cfg.size == "small" and cfg.sizes["small"] == 16


def test_layers_in_order(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("seed: 1\nbatch_size: 3\nsize: medium\ngeneration:\n  max_tokens: 100\n"
                      "  top_p: 0.5\n")
    env = {"SAFETY_EVAL_SEED": "2", "SAFETY_EVAL_GENERATION__MAX_TOKENS": "200",
           "SAFETY_EVAL_MODELS": "mock, mock:b"}
    cfg = load_config(config, {"seed": 3}, environ=env)
    assert cfg.seed == 3  # flag beats env beats file
    assert cfg.generation.max_tokens == 200  # env beats file
    assert cfg.generation.top_p == 0.5  # file beats default, nested keys merge
    assert cfg.batch_size == 3 and cfg.size == "medium"
    assert cfg.models == ["mock", "mock:b"]


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("generation:\n  temprature: 0.3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'generation\.temprature'"):
        load_config(config, environ={})


def test_unknown_env_key_is_named() -> None:
    with pytest.raises(ConfigError, match="environment: unknown key 'colour'"):
        load_config(environ={"SAFETY_EVAL_COLOUR": "red"})


def test_bad_value_names_key_and_origin() -> None:
    with pytest.raises(ConfigError, match="command line: 'batch_size'"):
        load_config(flags={"batch_size": 0}, environ={})


def test_non_mapping_yaml(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(config, environ={})


def test_config_is_frozen() -> None:
    cfg = RunConfig()
    with pytest.raises(ValueError):
        cfg.seed = 5  # type: ignore[misc]


def test_secret_and_tool_variables_are_not_config_keys() -> None:
    cfg = load_config(environ={"SAFETY_EVAL_ENCRYPTION_KEY": "k" * 44,
                               "SAFETY_EVAL_SEMGREP_BIN": "/x/semgrep",
                               "SAFETY_EVAL_PYPI_INDEX_DIR": "/tmp/i", "SAFETY_EVAL_SEED": "4"})
    assert cfg.seed == 4
    assert "k" * 44 not in cfg.model_dump_json()

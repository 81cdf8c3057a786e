"""Regenerate the JSON Schemas derived from the pydantic records.

Only ``sample.schema.json`` is generated (from ``Sample.model_json_schema()``); the other
schemas under ``src/safety_eval/results/schemas/v1/`` are written by hand.

    python scripts/gen_schemas.py           # write the file
    python scripts/gen_schemas.py --check   # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from safety_eval.results.records import SCHEMA_VERSION, Sample

SCHEMA_DIR = (
    Path(__file__).resolve().parents[1]
    / "src" / "safety_eval" / "results" / "schemas" / f"v{SCHEMA_VERSION}"
)
ID_BASE = f"https://ai-safety-eval.invalid/schemas/v{SCHEMA_VERSION}/"


def sample_schema() -> dict[str, Any]:
    """The schema of one ``samples.jsonl`` line, derived from the ``Sample`` model."""
    generated = Sample.model_json_schema(mode="validation")
    generated["properties"]["schema_version"]["const"] = SCHEMA_VERSION
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ID_BASE + "sample.schema.json",
        "title": "samples.jsonl line",
        "description": (
            f"One line of <model>/samples.jsonl (schema version {SCHEMA_VERSION}). "
            "Generated from safety_eval.results.records.Sample by scripts/gen_schemas.py; "
            "do not edit by hand."
        ),
        **{k: v for k, v in generated.items() if k not in ("title", "description")},
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    path = SCHEMA_DIR / "sample.schema.json"
    text = render(sample_schema())
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python scripts/gen_schemas.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

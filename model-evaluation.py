#!/usr/bin/env python3
"""Compatibility entry point for the historical ``model-evaluation.py`` invocations.

Maps the old command lines onto ``safety-eval run``:

  python model-evaluation.py                  default run (asks for a size on a terminal)
  python model-evaluation.py 50               50 prompts
  python model-evaluation.py nohup            non-interactive: no questions, no progress
                                              bar, log to run.log in the run directory
  python model-evaluation.py --dry-run --verbose
  python model-evaluation.py --mode vulnerability|autonomous|full --dataset-size medium
      --output-format csv|json|png|all --log-level INFO --config FILE --batch --interactive

Every output format is always written; ``--output-format`` is accepted for old scripts.
"""

from __future__ import annotations

import argparse
import sys

MODES = ("vulnerability", "autonomous", "full")


def translate(argv: list[str]) -> list[str]:
    """The ``safety-eval`` arguments equivalent to a historical command line."""
    parser = argparse.ArgumentParser(prog="model-evaluation.py", add_help=True)
    parser.add_argument("positional", nargs="*", help="a prompt count and/or 'nohup'")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--mode", choices=MODES, default=None)
    parser.add_argument("--dataset-size", default=None)
    parser.add_argument("--output-format", choices=("csv", "json", "png", "all"), default=None)
    parser.add_argument("--log-level", default=None)
    parser.add_argument("--config", default=None)
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--interactive", action="store_true")
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)

    out = ["run"]
    size = args.dataset_size
    nohup = False
    for token in args.positional:
        if token == "nohup":
            nohup = True
        elif token.isdigit() and int(token) > 0:
            size = token
        else:
            parser.error(f"unexpected argument '{token}' (expected a prompt count or 'nohup')")
    if size is not None:
        out += ["--size", size]
    if nohup:
        out += ["--batch", "--no-progress"]  # run.log is always written in the run dir
    if args.batch and not nohup:
        out.append("--batch")
    if args.interactive:
        out.append("--interactive")
    if args.dry_run:
        out.append("--dry-run")
    level = "DEBUG" if args.verbose else args.log_level
    if level:
        out += ["--log-level", level]
    if args.config:
        out += ["--config", args.config]
    if args.mode == "vulnerability":
        out += ["--trials", "0"]
    elif args.mode == "autonomous":
        out += ["--size", "0"] if size is None else []
    for model in args.model or []:
        out += ["--model", model]
    if args.output:
        out += ["--output", args.output]
    return out


def main(argv: list[str] | None = None) -> None:
    from safety_eval.cli import app

    app(args=translate(sys.argv[1:] if argv is None else argv), prog_name="safety-eval")


if __name__ == "__main__":
    main()

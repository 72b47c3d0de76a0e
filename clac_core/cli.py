"""The ``clac`` command: ``clac data|train|embed|eval|index ...``.

Each subcommand lives in its own module exposing ``configure_parser(parser)`` and
``run(args) -> int``. Only the module of the command being run is imported (heavy imports
such as torch stay out of ``clac --help``), and importing this module has no side effects.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("clac_core.corpus.build", "build crystal-text pair datasets"),
    "train": ("clac_core.training.cli", "train a CLaC model contrastively"),
    "embed": ("clac_core.embed", "embed structures or texts with a checkpoint"),
    "eval": ("clac_core.evaluation.cli", "zero-shot retrieval, classification, probes, baselines"),
    "index": ("clac_core.index.cli", "build a searchable corpus index for the app"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Parser listing every command; only ``command``'s module is imported and configured."""
    parser = argparse.ArgumentParser(prog="clac", description="CLaC: contrastive language-crystal models")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(module)
            mod.configure_parser(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

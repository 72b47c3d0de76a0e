"""``clac train``: ``--config``, ``--data``, ``--out``, ``--set KEY=VALUE``, ``--resume [DIR]``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", type=Path, default=None, help="YAML config (configs/tiny.yaml, configs/default.yaml, ...)"
    )
    p.add_argument("--data", type=Path, default=None, help="data directory from `clac data build`")
    p.add_argument("--out", type=Path, default=None, help="run directory to write")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. --set train.epochs=3 (repeatable)",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="DIR",
        help="continue the run in DIR (or in --out when given without DIR) from its last/ checkpoint",
    )


def _run_paths(args: argparse.Namespace) -> tuple[Path, Path | None, Path | None, bool]:
    """(out dir, config path, data dir, resume) from the flags and, on resume, the run itself.

    Raises:
        ValueError: the flags contradict each other or name no run directory.
    """
    out, resume = args.out, args.resume
    if isinstance(resume, str):
        if args.out is not None and Path(resume).resolve() != Path(args.out).resolve():
            raise ValueError("--resume DIR and --out name different directories")
        out, resume = Path(resume) if out is None else out, True
    if out is None:
        raise ValueError("--out DIR is required (or --resume DIR)")
    out = Path(out)
    config_path, data_dir = args.config, args.data
    if resume:
        if config_path is None and (out / "config.yaml").is_file():
            config_path = out / "config.yaml"
        if data_dir is None and (out / "last" / "config.json").is_file():
            meta = json.loads((out / "last" / "config.json").read_text(encoding="utf-8"))
            data_dir = meta.get("extra", {}).get("data_dir")
    if data_dir is None:
        raise ValueError("--data DIR is required")
    return out, config_path, Path(data_dir), bool(resume)


def run(args: argparse.Namespace) -> int:
    from clac_core.config import load_config, to_dict
    from clac_core.logs import console_logging
    from clac_core.training.distributed import dist_from_env
    from clac_core.training.loop import fit

    try:
        out, config_path, data_dir, resume = _run_paths(args)
        cfg = load_config(config_path, args.overrides)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with console_logging(logging.INFO):
        best = fit(cfg, data_dir, out, resume=resume)
    if dist_from_env().main:
        print(json.dumps({"best": str(best), "out": str(out), "config": to_dict(cfg)["train"]}))
    return 0

"""JSON configuration files of the CLI subcommands: read, merge over defaults, validate keys."""

from __future__ import annotations

import copy
import json
from pathlib import Path


def read_json_object(path):
    """The JSON object in the file ``path``; ValueError naming the file if it is missing,
    unreadable, not JSON or not an object."""
    try:
        user = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the configuration {path}: {exc}") from exc
    if not isinstance(user, dict):
        raise ValueError(f"the configuration {path} must be a JSON object")
    return user


def read_config(path, defaults, extra_keys=()):
    """A deep copy of ``defaults`` updated with the JSON object in ``path`` (None: defaults).

    Keys must be among ``defaults`` or ``extra_keys``; a missing/unreadable file, invalid JSON,
    a non-object or unknown keys raise ``ValueError`` naming the file and the problem.
    """
    config = copy.deepcopy(defaults)
    if path is None:
        return config
    user = read_json_object(path)
    unknown = set(user) - set(defaults) - set(extra_keys)
    if unknown:
        raise ValueError(f"unknown configuration keys {sorted(unknown)} in {path}; known: "
                         f"{sorted(set(defaults) | set(extra_keys))}")
    config.update(user)
    return config

"""One line for a config that ``vton`` cannot parse, with the closest valid key as "did you mean".

jsonargparse reports a bad key or value as a nested, multi-line message (the union of subtypes it tried, the value
it was given); ``explain_parse_error`` turns it into ``<full key>: <what is wrong>[; did you mean <key>?]``. The
message forms it reads (jsonargparse 4.3x-4.5x):

- ``unrecognized arguments: --traner.max_steps 3`` (command line) and ``Subcommand 'fit' does not accept option
  'traner.max_steps'`` (a config file): a key the subcommand does not have; the candidates are the subcommand's keys;
- ``Parser key "model": ... class_path 'C': ... Option 'gp_weigth' is not accepted``, nested once per ``Parser key``:
  an argument class ``C`` does not take; the candidates are ``C``'s constructor arguments;
- ``Parser key "model.init_args.gp_weight": ... Expected a <class 'float'>. Got value: abc``: a value of the wrong
  type, reported as the innermost message;
- ``module 'M' has no attribute 'X'``: a class path with a typo; the candidates are the classes of ``M``.

Anything else is condensed to its informative lines, joined on one line.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Iterable

UNRECOGNIZED = re.compile(r"unrecognized arguments: --?([\w.\-\[\]]+)")
NOT_ACCEPTED_BY_SUBCOMMAND = re.compile(r"Subcommand '[^']+' does not accept (?:option|nested key) '([^']+)'")
PARSER_KEY = re.compile(r'Parser key "([^"]+)"')
OPTION_NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
CLASS_PATH = re.compile(r"class_path[=\s]'([\w.]+)'")
NO_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
NOISE = re.compile(
    r"^(Does not validate against any of the Union subtypes|Subtypes: .*|Errors:|Given value.*|Expected a <class "
    r"'NoneType'>|Problem with given class_path .*|tip: .*)$"
)
CLASS_REPR = re.compile(r"<class '([\w.]+)'>")


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``name`` (difflib ratio >= 0.6), or ``None``."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def constructor_arguments(class_path: str) -> list[str]:
    """The keyword arguments the class at ``class_path`` takes (empty if it cannot be imported)."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        parameters = inspect.signature(cls).parameters.values()
    except (ImportError, AttributeError, ValueError, TypeError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def module_classes(module: str) -> list[str]:
    try:
        return [name for name, value in vars(importlib.import_module(module)).items() if inspect.isclass(value)]
    except ImportError:
        return []


def _suggest(key: str, wrong: str, candidates: Iterable[str], prefix: str = "") -> str:
    match = closest(wrong, candidates)
    return f"{key}: unknown key" + (f"; did you mean {prefix}{match}?" if match else "")


def explain_parse_error(message: str, subcommand_keys: Iterable[str] = ()) -> str:
    """``message`` of a jsonargparse ``ArgumentError`` -> one line (module docstring); ``subcommand_keys`` are the
    dotted keys the subcommand accepts (``trainer.max_steps``, ``model``, ...)."""
    keys = list(subcommand_keys)
    for pattern in (UNRECOGNIZED, NOT_ACCEPTED_BY_SUBCOMMAND):
        found = pattern.search(message)
        if found:
            return _suggest(found.group(1), found.group(1), keys)
    lines = [line.strip().lstrip("- ").strip() for line in message.splitlines()]
    lines = [line for line in lines if line]
    path = [key for line in lines for key in PARSER_KEY.findall(line)]
    key = ".init_args.".join(path)
    for index, line in enumerate(lines):
        option = OPTION_NOT_ACCEPTED.search(line)
        if option:
            # the class that refused it: named after the option on its line, else the nearest one above
            here = CLASS_PATH.search(line, option.end())
            above = [c for earlier in lines[:index] for c in CLASS_PATH.findall(earlier)]
            class_path = here.group(1) if here else (above[-1] if above else "")
            full = f"{key}.init_args.{option.group(1)}" if key else option.group(1)
            return _suggest(full, option.group(1), constructor_arguments(class_path), f"{full.rpartition('.')[0]}.")
        missing = NO_ATTRIBUTE.search(line)
        if missing:
            module, name = missing.groups()
            match = closest(name, module_classes(module))
            hint = f"; did you mean {module}.{match}?" if match else ""
            return f"{key or 'class_path'}: {module} has no class {name}{hint}"
    informative = [line for line in lines if not NOISE.match(line) and not PARSER_KEY.fullmatch(line.rstrip(":"))]
    detail = ": ".join(PARSER_KEY.sub("", line).strip(" :") for line in informative) or message.splitlines()[0]
    detail = CLASS_REPR.sub(r"\1", detail)
    return f"{key}: {detail}" if key else detail

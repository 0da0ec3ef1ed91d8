"""Read a workflow file with ruamel.yaml, keeping the line and column of every key and value."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from generator.workflow.findings import Location
from generator.errors import YamlSyntaxError

PathKey = tuple  # a path into the document: ("functions", "aws", 0, "lambda", "memory")



@dataclass
class SourceDocument:
    """The parsed tree (ruamel's commented containers) and where each node sits in the file."""

    file: str
    text: str
    root: Any

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """Location of the value at `path` (of its key when `key`); the nearest existing ancestor otherwise."""
        node = self.root
        line, column = 1, 1
        for part in path:
            if isinstance(node, CommentedMap) and part in node:
                try:
                    pos = node.lc.key(part) if key and part == path[-1] else node.lc.value(part)
                except (KeyError, TypeError):
                    pos = node.lc.key(part)
                if pos[0] is not None:
                    line, column = pos[0] + 1, pos[1] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                pos = node.lc.item(part)
                if pos[0] is not None:
                    line, column = pos[0] + 1, pos[1] + 1
                node = node[part]
            else:
                break
        return Location(self.file, line, column)


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, but a duplicate key's message does not print its value: the value
    can be huge (a long text, or nested aliases whose text form is exponentially long)."""

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
        if key in mapping:
            name = str(key) if isinstance(key, (str, int, float, bool)) else type(key).__name__
            name = name if len(name) <= 60 else name[:60] + "…"
            raise DuplicateKeyError("while constructing a mapping", node.start_mark,
                                    f'found duplicate key "{name}"', key_node.start_mark)
        return True


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


def parse_text(text: str, file: str) -> SourceDocument:
    """Parse YAML text; raise YamlSyntaxError with the position of the problem."""
    try:
        root = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise YamlSyntaxError(f"not valid YAML: {problem}", Location(file, line, column)) from None
    except RecursionError:
        raise YamlSyntaxError("not valid YAML: nested too deeply for avgen to read", Location(file, 0, 0)) from None
    except (YAMLError, ValueError, TypeError) as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", Location(file, 0, 0)) from None
    return SourceDocument(file=file, text=text, root=root)


def read_document(path: Path) -> SourceDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(f"not a UTF-8 text file ({exc.reason})", Location(str(path))) from None
    except OSError as exc:
        raise YamlSyntaxError(f"cannot read the file: {exc.strerror}", Location(str(path))) from None
    return parse_text(text, str(path))


def to_plain(node: Any, _seen: dict | None = None) -> Any:
    """Commented containers to plain dicts and lists (keys kept as written).

    A container reached through several YAML aliases becomes one shared plain object, as ruamel shares
    it: copying it at every alias would make a small file with nested aliases ("billion laughs") expand
    into billions of nodes.
    """
    seen = {} if _seen is None else _seen
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return seen[id(node)]
        if isinstance(node, dict):
            result: Any = {}
            seen[id(node)] = result
            for key, value in node.items():
                result[key] = to_plain(value, seen)
        else:
            result = []
            seen[id(node)] = result
            result.extend(to_plain(item, seen) for item in node)
        return result
    # ruamel keeps quoting and number formats in str/int/float subclasses; the model wants plain types.
    for plain in (bool, int, float, str):
        if isinstance(node, plain):
            return plain(node)
    return node

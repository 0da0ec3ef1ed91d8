"""Read a workflow file keeping the line and column of every key and value.

libyaml (PyYAML's C composer) reads the styles workflows are written in at C speed (block and flow
collections, anchors, aliases and merge keys, block scalars); ruamel.yaml reads everything else (explicit tags,
dates, duplicate keys, syntax errors, YAML 1.1 directives), so findings and their messages are ruamel's in
every case: the fast path only takes documents whose result it builds identically.
"""
from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import YamlSyntaxError
from generator.workflow.findings import Location

if TYPE_CHECKING:
    from ruamel.yaml import YAML

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
            if isinstance(node, dict) and part in node:  # ruamel's CommentedMap or the fast path's _Map
                pos = _position(node, part, key=key and part == path[-1])
                if pos and pos[0] is not None:
                    line, column = pos[0] + 1, pos[1] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                pos = node.lc.item(part)  # type: ignore[attr-defined]  # ruamel's CommentedSeq or a _Seq
                if pos and pos[0] is not None:
                    line, column = pos[0] + 1, pos[1] + 1
                node = node[part]
            else:
                break
        return Location(self.file, line, column)


def _position(mapping: Any, part: Any, *, key: bool) -> tuple | None:
    """Where a key (or its value) is written; None for a key merged in with `<<` (its mapping's place counts)."""
    for lookup in ((mapping.lc.key,) if key else (mapping.lc.value, mapping.lc.key)):
        try:
            return lookup(part)
        except (KeyError, TypeError, IndexError):
            continue
    return None


def _yaml() -> YAML:
    # ruamel is imported here, when a document needs it: plain documents never do (~10 ms of start-up)
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor

    class _Constructor(RoundTripConstructor):
        """ruamel's round-trip constructor, but a duplicate key's message does not print its value: the value
        can be huge (a long text, or nested aliases whose text form is exponentially long)."""

        def construct_document(self, node: Any) -> Any:
            _refuse_alias_bomb(node)  # before anything is built from it
            return super().construct_document(node)

        def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
            if key in mapping:
                name = str(key) if isinstance(key, (str, int, float, bool)) else type(key).__name__
                name = name if len(name) <= 60 else name[:60] + "…"
                raise DuplicateKeyError("while constructing a mapping", node.start_mark,
                                        f'found duplicate key "{name}"', key_node.start_mark)
            return True

    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a document's many small objects are built: they are all kept, and
    the collector's passes over a growing heap made loading 5,000 functions 20x slower than 500."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


MAX_TEXT_CHARACTERS = 2_000_000  # a workflow of 5,000 functions is ~1 MB; past this it is not a workflow file
# Aliases may expand a document to at most this many times the nodes written in it, plus a floor: an anchor
# used once per function stays far below (a function's own settings count too), an alias bomb (each level
# repeats the one before) grows exponentially past it, and everything after parsing walks the expanded tree.
MAX_EXPANSION_RATIO = 10
MAX_EXPANSION_FLOOR = 100_000


class _AliasBomb(Exception):
    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.message, self.line, self.column = message, mark.line + 1, mark.column + 1


def parse_text(text: str, file: str) -> SourceDocument:
    """Parse YAML text; raise YamlSyntaxError with the position of the problem.

    Refuses what no workflow needs and what would take minutes and gigabytes: a text of millions of
    characters (before parsing), or aliases that expand to far more than the file writes out (an alias
    bomb: after composing, where a node is still shared by its aliases, before anything is built)."""
    if len(text) > MAX_TEXT_CHARACTERS:
        raise YamlSyntaxError(f"the file has {len(text):,} characters; avgen reads workflow files of at most "
                              f"{MAX_TEXT_CHARACTERS:,}", Location(file, 0, 0))
    try:
        with gc_paused():
            return _parse_text(text, file)
    except _AliasBomb as exc:
        raise YamlSyntaxError(exc.message, Location(file, exc.line, exc.column)) from None


def _refuse_alias_bomb(root: Any) -> None:
    """Raise _AliasBomb at the first node (children before parents) whose aliases expand it past the bound.

    Works on PyYAML's and ruamel's composed nodes alike (an alias is the anchored node object itself), so both
    paths refuse the same files at the same place. Written: the nodes in the text, an alias counting one;
    expanded: the nodes once every alias is replaced by what it names (an alias back into its own ancestor,
    which ruamel builds as a cycle, counts one)."""
    sizes: dict[int, int] = {}
    started: set[int] = set()
    finished: list[tuple[Any, int]] = []  # collections, children before parents
    written = 1
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children = _children(node)
        if children is None:  # a scalar: one node, written and expanded
            continue
        if done:
            size = 1 + sum(sizes.get(id(child), 1) for child in children)
            sizes[id(node)] = size
            finished.append((node, size))
        elif id(node) not in started:
            started.add(id(node))
            written += len(children)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children) if child.id != "scalar")  # file order
    limit = MAX_EXPANSION_RATIO * written + MAX_EXPANSION_FLOOR
    for node, size in finished:
        if size > limit:
            raise _AliasBomb(f"the YAML aliases (`*name`) in this value expand to {size:,} values, more than the "
                             f"{limit:,} avgen reads for this file ({MAX_EXPANSION_RATIO} times the {written:,} "
                             f"written in it, plus {MAX_EXPANSION_FLOOR:,}; an alias bomb?): refer to an anchor "
                             "where a setting is shared, not to aliases of aliases, or use avgen.defaults",
                             node.start_mark)


def _children(node: Any) -> list | None:
    """A composed node's children (a mapping's keys and values); None for a scalar."""
    if node.id == "scalar":
        return None
    if node.id == "mapping":
        return [part for pair in node.value for part in pair]
    return node.value


def _parse_text(text: str, file: str) -> SourceDocument:
    if _CLoader is not None and _plain_enough(text):
        try:
            return SourceDocument(file=file, text=text, root=_compose_fast(text))
        except (_NotPlain, yaml.YAMLError, RecursionError, ValueError, TypeError):
            pass  # ruamel reads it, and words what is wrong with it
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        root = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise YamlSyntaxError(f"not valid YAML: {problem}", Location(file, line, column)) from None
    except RecursionError:
        raise YamlSyntaxError("not valid YAML: nested too deeply for avgen to read", Location(file, 0, 0)) from None
    except YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", Location(file, *_first_tag(text))) from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        # ruamel fails this way on a value its explicit tag cannot make (`!!float ""`, `!!bool maybe`,
        # `!!set` on a scalar, `!!int hunter2`): say so where the first tag is, without echoing the value
        # (it may be a secret)
        raise YamlSyntaxError("not valid YAML: a value cannot be read as its explicit tag (`!!…`) says; write "
                              "the value without the tag", Location(file, *_first_tag(text))) from None
    return SourceDocument(file=file, text=text, root=root)


def _first_tag(text: str) -> tuple[int, int]:
    """Line and column of the first explicit tag, else (0, 0)."""
    found = re.search(r"!!?[\w:/.-]*", text)
    if not found:
        return 0, 0
    line = text.count("\n", 0, found.start()) + 1
    return line, found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1


# --- the libyaml fast path ----------------------------------------------------------------------

try:
    import yaml
    from yaml import CSafeLoader as _CLoader
except ImportError:  # PyYAML without libyaml: ruamel reads everything
    _CLoader = None

# untagged nodes (a plain scalar is resolved below with ruamel's YAML 1.2 rules); any explicit tag goes to ruamel
_PLAIN, _QUOTED, _SEQ, _MAP = "?plain", "?quoted", "?seq", "?map"
# left to ruamel: directives (%YAML 1.1 changes the rules), and what the two scanners treat differently: tabs,
# YAML 1.1's extra line breaks (NEL, LS, PS), a byte order mark past the start, a block scalar's header with
# more than its indicators before a space or the line's end (libyaml reads `|#`, ruamel refuses it)
_RUAMEL_ONLY = re.compile(r"^%|[\t\x85\u2028\u2029]|(?:^|[\s\[{,?:-])[|>](?![1-9+-]*(?: |$))", re.MULTILINE)
# where a tag may be (`!` alone included, which libyaml reads as no tag); explicit tags are left to ruamel. Such a
# `!` inside a scalar is text (a script's `[ ! -f x ]` in a block scalar), and on a whole-line comment a word
_MAYBE_TAG = re.compile(r"(?:^|[\s\[{,?:-])!", re.MULTILINE)
# an anchor or alias whose name goes on past libyaml's characters (letters, digits, `-`, `_`): ruamel reads the
# whole run as the name (`&0:0` anchors `0:0`), libyaml stops early; such a `&` or `*` inside a scalar is text
_ODD_ANCHOR = re.compile(r"(?:^|[\s\[{,?:-])[&*](?=[\w-]*[^\w\s\[\]{},-])", re.MULTILINE | re.ASCII)
_COMMENT_LINE = re.compile(r" *#")
_DEEPEST = 2000  # libyaml's composer recurses in C: nesting this deep is left to ruamel's RecursionError
_NESTED = 100  # deeper documents go to ruamel, whose recursion limit decides whether they are "nested too deeply"


class _NotPlain(Exception):
    """The document uses something only ruamel builds exactly as the rest of avgen expects."""


class _Lines:
    """The `lc` of ruamel's containers: 0-based (line, column) of each key, value and item."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: dict[Any, tuple[int, int, int, int]] = {}

    def key(self, key: Any) -> tuple[int, int]:
        return self.data[key][0], self.data[key][1]

    def value(self, key: Any) -> tuple[int, int]:
        return self.data[key][2], self.data[key][3]

    def item(self, index: int) -> tuple[int, int]:
        return self.data[index][0], self.data[index][1]


class _Map(dict):
    __slots__ = ("lc",)
    lc: _Lines


class _Seq(list):
    __slots__ = ("lc",)
    lc: _Lines


if _CLoader is not None:
    class _Composer(_CLoader):
        """libyaml's composer, with tags left unresolved so that ruamel's YAML 1.2 rules apply."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                return _PLAIN if implicit[0] else _QUOTED
            return _SEQ if kind is yaml.SequenceNode else _MAP


def _plain_enough(text: str) -> bool:
    return (not _RUAMEL_ONLY.search(text) and "\ufeff" not in text[1:]
            and (_libyaml_bounds_nesting() or (text.count("[") + text.count("{") < _DEEPEST
                                               and max(map(len, text.splitlines()), default=0) < _DEEPEST)))


@functools.cache
def _libyaml_bounds_nesting() -> bool:
    """Whether libyaml refuses nesting _DEEPEST levels deep itself (0.2.6 stops at 1,000): then its composer
    never recurses that deep, whatever the file. An older libyaml does not: a file is then judged by its count
    of brackets (flow nesting) and its longest line (block nesting), bounds on how deep it can nest."""
    try:
        _compose_fast("[" * _DEEPEST + "]" * _DEEPEST)
    except yaml.YAMLError:
        return True
    except _NotPlain:
        pass
    return False


# The first characters of the plain scalars YAML 1.2 may read as something other than text (the keys of
# ruamel's resolver table), and what starts with a letter among them can be: a plain scalar is typed without
# asking ruamel (or importing it) unless it starts with another of them and is no decimal number like 512.
# Checked against ruamel in tests/validate/test_source_libyaml.py.
_MAYBE_TYPED = frozenset("!&*+-.0123456789<=FNTfnt~")
_WORDS = {**dict.fromkeys(("true", "True", "TRUE"), True), **dict.fromkeys(("false", "False", "FALSE"), False),
          **dict.fromkeys(("null", "Null", "NULL"), None)}
_DECIMAL = re.compile(r"[1-9][0-9]*\Z")


class _Scalars:
    """Plain scalars typed as ruamel types them (YAML 1.2: null, bool, int, float, else text)."""

    def __init__(self) -> None:
        self.cache: dict[str, Any] = {}
        self.resolvers: Any = None

    def value(self, text: str) -> Any:
        try:
            return self.cache[text]
        except KeyError:
            pass
        if text[0] not in _MAYBE_TYPED:
            result: Any = text
        elif text[0].isalpha():
            result = _WORDS.get(text, text)
        elif _DECIMAL.match(text):
            result = int(text)
        else:
            result = self._typed(text)
        self.cache[text] = result
        return result

    def _typed(self, text: str) -> Any:
        if self.resolvers is None:
            ruamel = _yaml()
            self.resolvers = ruamel.resolver.versioned_resolver
            self.constructor = ruamel.constructor
        from ruamel.yaml.nodes import ScalarNode as RuamelScalar

        tag = "str"
        for candidate, pattern in self.resolvers.get(text[:1], []):
            if pattern.match(text):
                tag = candidate
                break
        kind = tag.rsplit(":", 1)[-1]
        if kind == "str":
            result: Any = text
        elif kind == "null":
            result = None
        elif kind == "bool":
            result = bool(self.constructor.construct_yaml_bool(RuamelScalar(tag, text)))
        elif kind == "int":
            result = int(self.constructor.construct_yaml_int(RuamelScalar(tag, text)))
        elif kind == "float":
            result = float(self.constructor.construct_yaml_float(RuamelScalar(tag, text)))
        else:  # dates, merge keys (<<), the value key (=)
            raise _NotPlain(tag)
        return result


def _compose_fast(text: str) -> Any:
    loader = _Composer(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if root is None:
        return None
    if "*" in text:  # without aliases, nothing expands
        _refuse_alias_bomb(root)
    marks = _marks(_MAYBE_TAG, text) + _marks(_ODD_ANCHOR, text)
    if marks and not _inside_scalars(root, marks):
        raise _NotPlain("an explicit tag, or an anchor name libyaml reads otherwise")
    return _build(root, _Scalars(), 0, {})


def _marks(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    """(line, column), 0-based, of the character each match of `pattern` ends on (a `!` that may be a tag, an
    odd anchor's `&` or `*`), but those on whole-line comments."""
    marks = []
    for found in pattern.finditer(text):
        at = found.end() - 1
        start = text.rfind("\n", 0, at) + 1
        if not _COMMENT_LINE.match(text, start):
            marks.append((text.count("\n", 0, at), at - start))
    return marks


def _inside_scalars(root: Any, marks: list[tuple[int, int]]) -> bool:
    """Whether each mark lies inside a scalar's text: past its start (where its tag would be), before its end."""
    spans, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        children = _children(node)
        if children is None:
            spans.append(((node.start_mark.line, node.start_mark.column), (node.end_mark.line, node.end_mark.column)))
        else:
            stack.extend(children)
    spans.sort()
    starts = [start for start, _ in spans]
    for mark in marks:
        index = bisect.bisect_left(starts, mark) - 1  # the last scalar that starts before the mark
        if index < 0 or not mark < spans[index][1]:
            return False
    return True


_BUILDING = object()  # in `built` while a collection's children are built: an alias to it makes a cycle


def _build(node: Any, scalars: _Scalars, depth: int, built: dict[int, Any]) -> Any:
    """The value of a composed node, as ruamel's round-trip constructor builds it. A collection reached again
    through an alias is the same object (`built`, by node), as in ruamel: never a copy."""
    if depth > _NESTED:
        raise _NotPlain("nested deeply")
    tag = node.tag
    if tag == _PLAIN:
        if not node.value:  # an empty value: ruamel places it at the next token, libyaml where it ends
            raise _NotPlain("an empty value")
        return scalars.value(node.value)
    if tag == _QUOTED and isinstance(node, yaml.ScalarNode):
        return node.value  # quoted, or a block scalar (`|`, `>`)
    if tag != _MAP and tag != _SEQ:
        raise _NotPlain(tag)  # an explicit tag
    done = built.get(id(node))
    if done is not None:
        if done is _BUILDING:
            raise _NotPlain("an alias inside what it names")  # ruamel builds the cycle
        return done
    built[id(node)] = _BUILDING
    result = _build_map(node, scalars, depth, built) if tag == _MAP else _build_seq(node, scalars, depth, built)
    built[id(node)] = result
    return result


def _build_map(node: Any, scalars: _Scalars, depth: int, built: dict[int, Any]) -> _Map:
    mapping = _Map()
    mapping.lc = lines = _Lines()
    merged: list | None = None
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _NotPlain("a key that is a list or a mapping")
        if key_node.tag == _PLAIN and key_node.value == "<<":
            if merged is not None:
                raise _NotPlain("a second merge key")  # ruamel's message says so
            merged = _merged(value_node, scalars, depth, built)
            continue
        key = _build(key_node, scalars, depth + 1, built)
        if key in mapping:
            raise _NotPlain("a duplicate key")  # ruamel's message names it
        mapping[key] = _build(value_node, scalars, depth + 1, built)
        lines.data[key] = (key_node.start_mark.line, key_node.start_mark.column,
                           value_node.start_mark.line, value_node.start_mark.column)
    # as ruamel merges: after the mapping's own keys, each merged mapping's keys that are not there yet, in
    # order; a merged key has no place of its own (locate gives the mapping's)
    for source in merged or ():
        for key, value in source.items():
            if key not in mapping:
                mapping[key] = value
    return mapping


def _merged(node: Any, scalars: _Scalars, depth: int, built: dict[int, Any]) -> list:
    """The mappings a merge key (`<<`) names: one mapping, or a list of them (else ruamel says what is wrong)."""
    if node.tag == _SEQ and all(item.tag == _MAP for item in node.value):
        return [_build(item, scalars, depth + 2, built) for item in node.value]
    if node.tag == _MAP:
        return [_build(node, scalars, depth + 1, built)]
    raise _NotPlain("a merge key's value that is no mapping")


def _build_seq(node: Any, scalars: _Scalars, depth: int, built: dict[int, Any]) -> _Seq:
    sequence = _Seq(_build(item, scalars, depth + 1, built) for item in node.value)
    sequence.lc = lines = _Lines()
    lines.data = {index: (item.start_mark.line, item.start_mark.column, 0, 0)
                  for index, item in enumerate(node.value)}
    return sequence


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
    # ruamel keeps quoting and number formats in str/int/float subclasses; the model wants plain types. An
    # anchored true or false is ruamel's ScalarBoolean, an int subclass: a bool all the same (named, not imported)
    if isinstance(node, int) and type(node).__name__ == "ScalarBoolean":
        return bool(node)
    for plain in (bool, int, float, str):
        if isinstance(node, plain):
            return plain(node)
    return node

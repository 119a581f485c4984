"""Safe YAML loading that remembers where every value came from.

PyYAML's parser gives each node a mark (line, column). We keep them: :func:`load_document`
returns plain Python data plus a table from key path to :class:`SourceLoc`, so every later
stage can point at the exact spot in the file.

Three things differ from ``yaml.safe_load`` on purpose:

* Limits are checked on the event stream, before any node is built: file size, nesting depth,
  alias count and the size after alias expansion (an "alias bomb" is refused in microseconds).
* Plain scalars are resolved with the YAML 1.2 core schema (``1e-3`` is a float, ``no`` is a
  string), and every plain scalar that a YAML 1.1 tool would read differently (``no``, ``on``,
  ``010``, ``1_000``, ``1:30``) is recorded, so validators can flag it where a name, a boolean or
  a number is expected.
* Duplicate keys and explicit tags are errors: a spec never constructs Python objects.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import yaml

from ..access import read_limited
from ..errors import Problems, SourceLoc, SpecError, clip, spec_error
from .limits import DEFAULT_LIMITS, Limits

KeyPath = tuple[str | int, ...]

_PLAIN_TAG: Final = "tag:cellgraph,2026:plain"

try:  # libyaml is ~10x faster; both give identical events and marks
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Base = yaml.SafeLoader


class _Loader(_Base):
    """Tags every untagged plain scalar as "plain", so resolution (YAML 1.2) is ours to do."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN_TAG
        return super().resolve(kind, value, implicit)


_NULL: Final = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL: Final = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT: Final = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT: Final = re.compile(r"^0o[0-7]+$")
_INT_HEX: Final = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT: Final = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_MAX_INT_DIGITS: Final = 1000  # int() of a longer text is slow or refused: such a number is inf at once
_FLOAT_MAX: Final = sys.float_info.max  # larger integers resolve to inf, so float(x) never overflows later
_INF: Final = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN: Final = re.compile(r"^\.(?:nan|NaN|NAN)$")

# Plain scalars that YAML 1.1 (PyYAML's default, many other tools) reads as something else.
# The 1.1 spec also lists y/n, but PyYAML and most tools don't, and `x -> y` is too common a
# pair of names to flag.
_YAML11_BOOL: Final = re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$")
_YAML11_OCTAL: Final = re.compile(r"^[-+]?0[0-9_]+$")
_YAML11_UNDERSCORE: Final = re.compile(r"^[-+]?(?:0b[01_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)$")
_YAML11_SEXAGESIMAL: Final = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")

_ALLOWED_TAGS: Final = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")
) | {_PLAIN_TAG}
_MAP_TAG: Final = "tag:yaml.org,2002:map"
_SEQ_TAG: Final = "tag:yaml.org,2002:seq"
_SCALAR_TAGS: Final = _ALLOWED_TAGS - {_MAP_TAG, _SEQ_TAG}


@dataclass
class Document:
    """A loaded YAML document: plain data plus where each value and key sits in the file."""

    file: str
    data: Any
    locs: dict[KeyPath, SourceLoc] = field(default_factory=dict)
    key_locs: dict[KeyPath, SourceLoc] = field(default_factory=dict)
    yaml11: dict[KeyPath, str] = field(default_factory=dict)
    quoted: set[KeyPath] = field(default_factory=set)

    def loc(self, path: KeyPath) -> SourceLoc:
        """The location of the value at ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.locs:
                return self.locs[p]
            p = p[:-1]
        return self.locs.get((), SourceLoc(self.file, 1, 1))

    def key_loc(self, path: KeyPath) -> SourceLoc:
        """The location of the mapping key that ends ``path`` (falls back to :meth:`loc`)."""
        return self.key_locs.get(tuple(path)) or self.loc(path)


def format_path(path: KeyPath) -> str:
    """``("cells", "h", "size")`` -> ``cells.h.size``; ``("edges", 2)`` -> ``edges[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _loc(file: str, mark: Any) -> SourceLoc:
    return SourceLoc(file, mark.line + 1, mark.column + 1) if mark is not None else SourceLoc(file)


def read_text(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """Read a spec file as text, refusing non-regular, huge, binary or non-UTF-8 files.

    The reading itself is :func:`.access.read_limited`: a FIFO, a device or ``/dev/stdin`` is
    refused without blocking, and no more than ``limits.max_bytes + 1`` bytes are ever read.
    """
    shown = str(path)
    return decode_text(read_limited(path, limits.max_bytes, shown), shown)


def decode_text(raw: bytes, shown: str) -> str:
    """Decode spec bytes, with a located error for binary content or invalid UTF-8."""
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise spec_error(
            SourceLoc(shown, line, 1),
            "",
            "file holds binary data (NUL bytes), not YAML text",
            "pass a YAML spec file saved as UTF-8 text",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise spec_error(
            SourceLoc(shown, line, col),
            "",
            f"not valid UTF-8 text (byte 0x{raw[err.start]:02x})",
            "save the spec as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def SpecError_limit(loc: SourceLoc, message: str, fix: str) -> SpecError:
    from ..errors import LimitError, Problem

    return LimitError([Problem(loc, "", message, fix)])


_BRACED_REF: Final = re.compile(r"\$\{([^{}<>\n]*)\}")
REF_PATTERN: Final = re.compile(r"\$<([^<>\n]*)>")
"""A ``${...}`` reference as the loader hands it on (see :func:`protect_references`)."""


def protect_references(text: str) -> str:
    """Rewrite ``${body}`` as ``$<body>``: the same length, so every line and column stays put.

    YAML reads ``{`` inside a flow mapping as a bracket, so the format's own one-line form
    ``h: {type: hidden, size: ${width}}`` would be a syntax error; ``$<width>`` is a plain
    scalar everywhere. Scalars turn back into the written form as they are built
    (:func:`show_references`), so the data holds ``${width}`` exactly as the user wrote it.
    """
    return _BRACED_REF.sub(lambda m: f"$<{m.group(1)}>", text)


def show_references(text: str) -> str:
    """The inverse of :func:`protect_references`."""
    if "$<" not in text:  # nearly every scalar: skip the substitution
        return text
    return REF_PATTERN.sub(lambda m: "${" + m.group(1) + "}", text)


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of a character index."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _yaml_problem(err: yaml.YAMLError, file: str, text: str = "") -> SpecError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    if isinstance(err, yaml.reader.ReaderError):
        message = f"YAML cannot read this character: {err.reason or problem} (code {err.character:#04x})"
        line, col = _position(text, err.position) if 0 <= err.position <= len(text) else (1, 1)
        return spec_error(SourceLoc(file, line, col), "", message, "remove control characters from the file")
    fix = "check indentation, colons and brackets near this position (YAML uses spaces, never tabs)"
    return spec_error(_loc(file, mark), "", message, fix)


def _check_events(text: str, file: str, limits: Limits) -> None:
    """Walk the event stream (non-recursive) and refuse deep, alias-heavy, huge or multi-document text.

    Counting the written values here keeps a flat list of 500,000 numbers from being composed
    into nodes at all: the expanded document can only be larger than the written one.
    """
    depth = aliases = documents = values = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.NodeEvent) and not isinstance(event, yaml.AliasEvent):
                values += 1
                if values > limits.max_nodes:
                    raise SpecError_limit(
                        _loc(file, event.start_mark),
                        f"document expands to more than {limits.max_nodes:,} values",
                        "a spec is a short description; use `repeat:` and `params:` instead of listing values",
                    )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limits.max_depth:
                    raise SpecError_limit(
                        _loc(file, event.start_mark),
                        f"nesting deeper than {limits.max_depth} levels",
                        "flatten the structure; a spec needs only a few levels",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > limits.max_aliases:
                    raise SpecError_limit(
                        _loc(file, event.start_mark),
                        f"more than {limits.max_aliases} aliases (`*name`)",
                        "use `params:` and `repeat:` instead of many YAML aliases",
                    )
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise spec_error(
                        _loc(file, event.start_mark),
                        "",
                        "file holds more than one YAML document",
                        "keep one network per file; remove the `---` separator",
                    )
    except yaml.YAMLError as err:
        raise _yaml_problem(err, file, text) from None


class _Converter:
    """Node tree -> plain data, with locations, duplicate-key and expansion checks."""

    def __init__(self, doc: Document, limits: Limits) -> None:
        self.doc = doc
        self.limits = limits
        self.nodes = 0
        self.problems = Problems()
        self.open: set[int] = set()  # ids of the collections being converted (recursive aliases)

    def check_expansion(self, root: yaml.Node) -> None:
        """Refuse an alias bomb before converting anything.

        Aliases make the node tree a DAG: 1,000 nested references can expand to billions of
        values. Each node's expanded size is computed once (memoised by identity), then the walk
        follows conversion order and descends only into the subtree where the count crosses the
        limit, so the error names the same place converting would have, in microseconds instead
        of after converting the first 100,000 values.
        """
        sizes: dict[int, int] = {}
        limit = self.limits.max_nodes

        def children(node: yaml.Node) -> list[yaml.Node]:
            if isinstance(node, yaml.SequenceNode):
                return list(node.value)
            if not isinstance(node, yaml.MappingNode):
                return []
            # a merged mapping's values are converted in place of the mapping itself, depth
            # first in writing order; each mapping once, so `<<: *self` cannot loop
            out: list[yaml.Node] = []
            seen: set[int] = set()
            stack = [node]
            while stack:
                mapping = stack.pop()
                if id(mapping) in seen:
                    continue
                seen.add(id(mapping))
                merges: list[yaml.Node] = []
                for key, value in mapping.value:
                    if key.tag == _PLAIN_TAG and key.value == "<<":
                        merges += value.value if isinstance(value, yaml.SequenceNode) else [value]
                    else:
                        out.append(value)
                stack.extend(reversed([m for m in merges if isinstance(m, yaml.MappingNode)]))
            return out

        def size(node: yaml.Node, open_: frozenset[int]) -> int:
            if id(node) in open_:  # a recursive alias: reported by convert, counted once here
                return 1
            if id(node) not in sizes:
                if len(open_) > self.limits.max_depth:  # each call is one level of the expanded data
                    raise _too_deep(self.doc.file, node, self.limits)
                inner = open_ | {id(node)}
                total = 1
                for child in children(node):
                    total += size(child, inner)
                    if total > limit:
                        break
                sizes[id(node)] = total
            return sizes[id(node)]

        if size(root, frozenset()) <= limit:
            return
        count, node = 0, root
        while True:  # descend to the node at which the running count passes the limit
            count += 1
            if count > limit:
                break
            for child in children(node):
                if count + size(child, frozenset()) > limit:
                    node = child
                    break
                count += size(child, frozenset())
            else:
                break
        raise SpecError_limit(
            _loc(self.doc.file, node.start_mark),
            f"document expands to more than {limit:,} values (alias bomb?)",
            "remove nested aliases; use `repeat:` to build many groups",
        )

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise SpecError_limit(
                _loc(self.doc.file, node.start_mark),
                f"document expands to more than {self.limits.max_nodes:,} values (alias bomb?)",
                "remove nested aliases; use `repeat:` to build many groups",
            )
        if len(path) > self.limits.max_depth:  # deeper through aliases than the text itself
            raise _too_deep(self.doc.file, node, self.limits)
        self.doc.locs.setdefault(path, _loc(self.doc.file, node.start_mark))
        if node.tag not in _ALLOWED_TAGS:
            self.problems.add(
                _loc(self.doc.file, node.start_mark),
                format_path(path),
                f"YAML tag '{_shown_tag(node.tag)}' is not allowed",
                "remove the tag; a spec holds plain data and never constructs objects",
            )
            return None
        mismatch = _tag_mismatch(node)
        if mismatch:
            self.problems.add(
                _loc(self.doc.file, node.start_mark),
                format_path(path),
                mismatch,
                "remove the tag; a mapping is `{...}` or indented `key: value` lines, a list `[...]` or `- ` lines",
            )
            return None
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self.open:
                self.problems.add(
                    _loc(self.doc.file, node.start_mark),
                    format_path(path),
                    "an alias refers to the mapping or list that contains it (a recursive structure)",
                    "remove the `*alias` inside its own `&anchor`",
                )
                return None
            self.open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self.open.discard(id(node))
        # the composer builds only scalar, sequence and mapping nodes: what is left is a scalar
        return self._scalar(cast(yaml.ScalarNode, node), path)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _PLAIN_TAG and key_node.value == "<<":
                merges.append(value_node)  # merged after the explicit keys, which win
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.add(
                    _loc(self.doc.file, key_node.start_mark),
                    format_path(path),
                    "a key must be a plain name, not a list or mapping",
                    "use a name as the key",
                )
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.problems.add(
                    _loc(self.doc.file, key_node.start_mark),
                    format_path(path),
                    f"YAML tag '{_shown_tag(key_node.tag)}' is not allowed on a key",
                    "remove the tag; a spec holds plain data and never constructs objects",
                )
                continue
            raw_key = show_references(key_node.value)
            key = resolve_plain(raw_key) if key_node.tag == _PLAIN_TAG else raw_key
            if key is None or isinstance(key, bool | float):
                self.problems.add(
                    _loc(self.doc.file, key_node.start_mark),
                    format_path(path),
                    f"key {key_node.value!r} is read as {type(key).__name__}, not a name",
                    "use a name made of letters, digits and _ as the key",
                )
                continue
            key = str(key)
            kpath = (*path, key)
            if key_node.tag == _PLAIN_TAG and _yaml11_note(key_node.value):
                self.doc.yaml11[(*kpath, "<key>")] = _yaml11_note(key_node.value) or ""
            if key in out:
                self.problems.add(
                    _loc(self.doc.file, key_node.start_mark),
                    format_path(kpath),
                    f"duplicate key '{key}' (first at line {self.doc.key_locs[kpath].line})",
                    "remove or rename one of the two entries; YAML would silently keep the last",
                )
                continue
            self.doc.key_locs.setdefault(kpath, _loc(self.doc.file, key_node.start_mark))
            out[key] = self.convert(value_node, kpath)
        for merge in merges:
            self._merge(merge, path, merged)
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def _merge(self, node: yaml.Node, path: KeyPath, into: dict[str, Any]) -> None:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                self.problems.add(
                    _loc(self.doc.file, src.start_mark),
                    format_path(path),
                    "`<<` merges only mappings",
                    "point `<<:` at a mapping anchor",
                )
                continue
            if id(src) in self.open:
                self.problems.add(
                    _loc(self.doc.file, node.start_mark),
                    format_path(path),
                    "`<<` merges a mapping into itself (a recursive structure)",
                    "point `<<:` at an anchor outside the mapping that holds it",
                )
                continue
            if len(self.open) > 2 * self.limits.max_depth:  # merges of merges of merges ...
                raise _too_deep(self.doc.file, src, self.limits)
            self.open.add(id(src))
            try:
                value = self._mapping(src, path)
            finally:
                self.open.discard(id(src))
            for key, item in value.items():
                into.setdefault(key, item)

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        text = show_references(node.value)
        if node.tag != _PLAIN_TAG:  # quoted, block or explicitly tagged
            if node.tag == "tag:yaml.org,2002:str":
                self.doc.quoted.add(path)
                return text
            value = resolve_plain(text)
            kind = node.tag.rsplit(":", 1)[-1]
            kinds: dict[str, type | tuple[type, ...]] = {
                "int": int,
                "float": (int, float),
                "bool": bool,
                "null": type(None),
            }
            wanted = kinds[kind]
            if not isinstance(value, wanted) or (kind == "int" and isinstance(value, bool)):
                self.problems.add(
                    _loc(self.doc.file, node.start_mark),
                    format_path(path),
                    f"'{text}' is not a valid !!{kind}",
                    f"write {'an' if kind == 'int' else 'a'} {kind} or remove the tag",
                )
            return float(value) if kind == "float" and isinstance(value, int) else value
        value = resolve_plain(text)
        note = _yaml11_note(text)
        if note:
            self.doc.yaml11[path] = note
        return value


def _shown_tag(tag: str) -> str:
    """``tag:yaml.org,2002:map`` -> ``!!map`` (as written); other tags in full, up to a readable length."""
    short = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag in _ALLOWED_TAGS else tag
    return clip(short, 60)


def _tag_mismatch(node: yaml.Node) -> str | None:
    """Why a node's (allowed) tag does not fit its kind, or None: a tag is never ignored."""
    if isinstance(node, yaml.MappingNode) and node.tag != _MAP_TAG:
        return f"YAML tag '{_shown_tag(node.tag)}' on a mapping (only !!map fits a mapping)"
    if isinstance(node, yaml.SequenceNode) and node.tag != _SEQ_TAG:
        return f"YAML tag '{_shown_tag(node.tag)}' on a list (only !!seq fits a list)"
    if isinstance(node, yaml.ScalarNode) and node.tag not in _SCALAR_TAGS:
        fits = "mapping" if node.tag == _MAP_TAG else "list"
        return f"YAML tag '{_shown_tag(node.tag)}' on a plain value (it fits only a {fits})"
    return None


def _too_deep(file: str, node: yaml.Node, limits: Limits) -> SpecError:
    return SpecError_limit(
        _loc(file, node.start_mark),
        f"nesting deeper than {limits.max_depth} levels once aliases and merges are expanded",
        "flatten the structure; a spec needs only a few levels",
    )


def resolve_plain(text: str) -> Any:
    """Resolve a plain (unquoted) scalar with the YAML 1.2 core schema."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        if len(text) > _MAX_INT_DIGITS:  # int() refuses > 4300 digits; such a number is "infinite" here
            return -math.inf if text.startswith("-") else math.inf
        value = int(text, 10)
        if abs(value) > _FLOAT_MAX:  # no float holds it: every later float(x) would overflow
            return -math.inf if value < 0 else math.inf
        return value
    if _INT_OCT.match(text) or _INT_HEX.match(text):
        if len(text) > _MAX_INT_DIGITS:
            return math.inf
        value = int(text[2:], 8 if text[1] == "o" else 16)
        return value if value <= _FLOAT_MAX else math.inf
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def _yaml11_note(text: str) -> str | None:
    """Why a YAML 1.1 reader would read ``text`` differently, or None."""
    if _YAML11_BOOL.match(text):
        truth = text.lower() in ("yes", "on")
        return f"'{text}' is the boolean {str(truth).lower()} in YAML 1.1 but a string in YAML 1.2"
    if _YAML11_OCTAL.match(text) and not _INT_OCT.match(text) and text.lstrip("+-") != "0":
        if len(text) > _MAX_INT_DIGITS:
            return f"'{text[:12]}...' has a leading zero: octal in YAML 1.1, decimal in YAML 1.2"
        digits = text.lstrip("+-").replace("_", "")
        octal = f"octal {int(digits, 8)}" if set(digits) <= set("01234567") else "not a valid octal"
        return f"'{text}' is {octal} in YAML 1.1 but {int(digits, 10)} in YAML 1.2"
    if "_" in text and _YAML11_UNDERSCORE.match(text):
        return f"'{text}' is a number in YAML 1.1 but a string in YAML 1.2"
    if _YAML11_SEXAGESIMAL.match(text):
        return f"'{text}' is a base-60 number in YAML 1.1 but a string in YAML 1.2"
    return None


def load_document(text: str, file: str = "<spec>", limits: Limits = DEFAULT_LIMITS) -> Document:
    """Parse YAML text into a located :class:`Document`.

    Raises:
        SpecError: on syntax errors, limits, duplicate keys, tags, or an empty document.
    """
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise SpecError_limit(
            SourceLoc(file, 1, 1),
            f"text is over the limit of {limits.max_bytes:,} bytes",
            "a spec is a short description; use `repeat:` and `params:`",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # lone surrogates: only from text built in Python
        line, col = _position(text, err.start)
        raise spec_error(
            SourceLoc(file, line, col), "", "text holds a lone surrogate, not a character", "pass valid Unicode text"
        ) from None
    text = protect_references(text)
    _check_events(text, file, limits)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as err:
        raise _yaml_problem(err, file, text) from None
    doc = Document(file=file, data=None)
    if node is None:
        raise spec_error(
            SourceLoc(file, 1, 1),
            "",
            "file is empty",
            "start the spec with `cellgraph: 1`, a `name:`, `cells:` and `edges:`",
        )
    converter = _Converter(doc, limits)
    converter.check_expansion(node)
    doc.data = converter.convert(node, ())
    converter.problems.raise_if_any()
    return doc


def load_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read and parse one spec file into a located :class:`Document`."""
    p = Path(path)
    return load_document(read_text(p, limits), str(path), limits)

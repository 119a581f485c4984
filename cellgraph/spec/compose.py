"""Document -> :class:`Spec`: params, repeats, ``use:`` composition and edge statements.

This is where written names become final names. A group with ``repeat: 3`` becomes
``h.1 -> h.2 -> h.3`` (an edge into ``h`` enters ``h.1``, an edge out of ``h`` leaves
``h.3``); ``residual: k`` adds identity edges ``h.i => h.(i+k)``. A group with
``use: part.yaml`` inlines that spec's cells as ``group.cell``; an edge into the group enters the
part's source cells and an edge out of it leaves its sink cells. ``use:`` with ``repeat: N``
inlines the part N times as ``group.1.cell ... group.N.cell``, each copy's input group bound to
the previous copy's last group (``chain:`` names them when the part has several), and
``residual: true`` adds one identity skip around each copy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from ..access import allowed_roots, confined, has_control_char, outside_message
from ..errors import LimitError, Problem, Problems, SourceLoc, SpecError, clip, did_you_mean, spec_error
from .edges import OPERATORS, StatementError, parse_statement
from .limits import DEFAULT_LIMITS, Limits
from .load import Document, KeyPath, format_path, load_document, read_text
from .model import Binding, CellSpec, EdgeSpec, Spec
from .params import collect_params, substitute
from .validate import CELL_NAME, STRUCTURAL_CELL_KEYS, check_keys, check_positive_int, check_top, kind_of

EDGE_MAPPING_KEYS: Final = ("from", "to", "kind", "delay")
USE_KEYS: Final = ("use", "params", "bind", "repeat", "residual", "chain", "style", "share")
CLI_LOC: Final = SourceLoc("<command line>")
# a part declares itself a spec by its top-level `cellgraph:` key; any other file is refused
# before it is parsed, so no error can show its content (an SSH key, a `.env`)
_SPEC_MARK: Final = re.compile(r"""^(?:\{[ \t]*)?["']?cellgraph["']?[ \t]*:""", re.MULTILINE)


@dataclass
class _Shared:
    """What every context of one load shares: the folders it may read, its budget, its parts."""

    roots: tuple[Path, ...] = ()  # folder trees `use:` may read (see access.py)
    parts: int = 0  # `use:` instances so far, across the whole composition tree
    composed_values: int = 0  # YAML values instantiated so far (the root's, then each `use:` again)
    # (resolved, file) -> (text, document): one parse per file; the root first, then every part in
    # reading order, so the root's Spec can name everything its result depends on (``sources``)
    parsed: dict[tuple[str, str], tuple[str, Document]] = field(default_factory=dict)

    def sources(self) -> tuple[tuple[str, str], ...]:
        """(file, text) of the root spec and every part read so far, in reading order."""
        return tuple((file, text) for (_, file), (text, _) in self.parsed.items())


@dataclass
class _Context:
    limits: Limits
    stack: tuple[str, ...] = ()  # resolved paths of the specs being composed (include cycles)
    cells_total: int = 0
    shared: _Shared = field(default_factory=_Shared)


@dataclass
class _Groups:
    """Written group name -> its final names, with entry (first) and exit (last) cells."""

    entries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exits: dict[str, tuple[str, ...]] = field(default_factory=dict)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    shown: dict[str, Any] = field(default_factory=dict)  # `draw.groups.X.show` inherited from parts
    broken: set[str] = field(default_factory=set)  # declared but already reported: edges to them are skipped
    # a repeated `use:` group (and each copy) -> its chained inputs that copy 1 leaves unbound (`bind:` feeds them)
    unbound: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def is_broken(self, ref: str) -> bool:
        return ref in self.broken or ref.split(".")[0] in self.broken


def load_spec(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Spec:
    """Load a spec file into a :class:`Spec` (structure only: cell types are checked later).

    Args:
        path: the YAML file.
        overrides: param values that replace the file's (``-p width=128``).
        limits: safety limits.

    Raises:
        SpecError: every problem found, each located at file:line:col.

    >>> spec = load_spec("specs/zoo/p.yaml")  # doctest: +SKIP
    """
    spec = load_spec_unchecked(path, overrides, limits)
    if spec.problems:
        raise SpecError(spec.problems)
    return spec


def load_spec_unchecked(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Spec:
    """Like :func:`load_spec`, but problems that still leave a usable spec come back in
    ``spec.problems`` instead of being raised, so the graph stage can report them together
    with its own (a misspelt top-level key and an unknown cell type in one run).

    Raises:
        SpecError: problems that leave nothing to build on (syntax, limits, no `cells:`).
    """
    p = Path(path)
    text = read_text(p, limits)
    shared = _Shared(allowed_roots(p.resolve().parent, limits.allow))
    ctx = _Context(limits, (str(p.resolve()),), shared=shared)
    return _build(text, str(path), ctx, overrides=dict(overrides or {}), override_loc=CLI_LOC)


def load_spec_text(
    text: str,
    file: str | os.PathLike[str] = "<spec>",
    overrides: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Spec:
    """Like :func:`load_spec` for text in memory; ``file`` names it in messages and, when it is a
    path (a ``str`` or a ``Path``), is where relative ``use:`` paths start (else the cwd)."""
    file = os.fspath(file)
    shared = _Shared(allowed_roots(_folder(file), limits.allow))
    ctx = _Context(limits, (file,), shared=shared)
    spec = _build(text, file, ctx, overrides=dict(overrides or {}), override_loc=CLI_LOC)
    if spec.problems:
        raise SpecError(spec.problems)
    return spec


def _folder(file: str) -> Path:
    """Where relative ``use:`` paths of ``file`` start: its folder, or the cwd for text (``<string>``)."""
    return Path(file).parent if not file.startswith("<") else Path.cwd()


def _build(
    text: str,
    file: str,
    ctx: _Context,
    *,
    overrides: dict[str, Any],
    override_loc: SourceLoc,
    raw_doc: Document | None = None,
) -> Spec:
    """One spec (the root, or a part being composed) from its text: params, cells, edges, checks.

    ``overrides`` replace the spec's params and are located at ``override_loc`` (the command
    line, or the `params:` of the `use:` that builds a part); a part arrives as ``raw_doc``,
    already parsed and counted by :func:`_read_part`.
    """
    if raw_doc is None:  # the root spec (a part comes parsed, recorded once by _read_part)
        raw_doc = load_document(text, file, ctx.limits)
        ctx.shared.parsed[(ctx.stack[0], file)] = (text, raw_doc)  # a part never reaches this key: a cycle
        ctx.shared.composed_values += len(raw_doc.locs)
    problems = Problems()
    if not check_top(raw_doc, problems):
        problems.raise_if_any()
    values = collect_params(raw_doc, overrides, problems, override_loc)
    data = substitute(raw_doc, values, problems)
    doc = Document(raw_doc.file, data, raw_doc.locs, raw_doc.key_locs, raw_doc.yaml11, raw_doc.quoted)
    composed = _expand_cells(doc, ctx, problems)
    edges = _expand_edges(doc, composed.cells, composed.groups, problems) + composed.edges
    _check_yaml11_numbers(raw_doc, problems)
    if any(_is_structural(p, file) for p in problems.items):
        problems.raise_if_any()  # the graph would be built on broken cells or edges: stop here
    version = data.get("cellgraph")
    return Spec(
        file=file,
        name=str(data.get("name")),
        version=version if isinstance(version, int) and not isinstance(version, bool) else 0,
        cells=tuple(composed.cells),
        edges=tuple(edges),
        doc=doc,
        title=str(data.get("title") or ""),
        description=str(data.get("description") or ""),
        params=MappingProxyType(values),
        train=_block(data, "train"),
        data=_block(data, "data"),
        draw=_block(data, "draw"),
        bindings=tuple(composed.bindings),
        groups=MappingProxyType(dict(composed.groups.members)),
        inherited_show=MappingProxyType(dict(composed.groups.shown)),
        source=text,
        sources=ctx.shared.sources(),
        problems=tuple(problems.items),
    )


def _is_structural(problem: Problem, file: str) -> bool:
    """Problems in cells, edges or a composed part leave no sound graph to check further."""
    return problem.loc.file != file or problem.path.startswith(("cells", "edges", "-p"))


def _block(data: dict[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return MappingProxyType(dict(value) if isinstance(value, dict) else {})


def _check_yaml11_numbers(doc: Document, problems: Problems) -> None:
    """A number written with a leading zero reads differently in YAML 1.1 and 1.2: refuse it."""
    for path, note in doc.yaml11.items():
        if path and path[-1] != "<key>" and "octal" in note:
            value: Any = doc.data
            for part in path:
                value = value[part]
            problems.add(doc.loc(path), format_path(path), note, f"write the number without a leading zero: {value}")


# ---------------------------------------------------------------------------------------- cells


@dataclass
class _Composed:
    """What entries under `cells:` produce: cells, `bind:` links, group names and implicit edges.

    Each entry (a plain group or a `use:` part) builds its own and returns it; :func:`_expand_cells`
    merges them in order. A step never appends to lists it was handed, and a rejected entry
    returns None, so it adds nothing.
    """

    cells: list[CellSpec] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    groups: _Groups = field(default_factory=_Groups)
    edges: list[EdgeSpec] = field(default_factory=list)  # repeat chains, residual skips, a part's own edges

    def merge(self, other: _Composed) -> None:
        """Append ``other`` after what is here (entries have distinct names, so nothing is replaced)."""
        self.cells.extend(other.cells)
        self.bindings.extend(other.bindings)
        self.edges.extend(other.edges)
        self.groups.entries.update(other.groups.entries)
        self.groups.exits.update(other.groups.exits)
        self.groups.members.update(other.groups.members)
        self.groups.shown.update(other.groups.shown)
        self.groups.broken |= other.groups.broken
        self.groups.unbound.update(other.groups.unbound)


@dataclass(frozen=True)
class _PartRef:
    """A checked `use:` target: the file to read, and how errors about it name and locate it."""

    target: str  # as written (a `bind:` error quotes it)
    shown: str  # as other errors show it: clipped at 200 characters
    file: Path  # the written path, relative to the using spec's folder
    resolved: str  # its resolved path: include cycles and the parse cache compare these
    loc: SourceLoc  # the `use:` value, where every problem with the part is reported
    key: str  # its key path, ``cells.<group>.use``


def _expand_cells(doc: Document, ctx: _Context, problems: Problems) -> _Composed:
    """Every entry under `cells:`, in written order: a plain group, or a `use:` part inlined."""
    out = _Composed()
    raw = doc.data.get("cells")
    if not isinstance(raw, dict):
        return out
    for name, body in raw.items():
        path: KeyPath = ("cells", name)
        if not _check_entry(doc, name, body, path, problems):
            continue
        if "use" in body:
            entry = _compose_part(doc, name, body, path, ctx, problems)
        else:
            entry = _expand_group(doc, name, body, path, ctx, problems)
        if entry is not None:
            out.merge(entry)
    out.groups.broken = {name for name in raw if name not in out.groups.members}
    return out


def _check_entry(doc: Document, name: str, body: Any, path: KeyPath, problems: Problems) -> bool:
    """Whether a `cells:` entry is a valid name holding a mapping; a YAML 1.1 key is only reported.

    A bad name or a non-mapping body leaves nothing to expand, so the entry is skipped (and
    counted broken, so edges to it are not reported again as unknown).
    """
    where = format_path(path)
    if not CELL_NAME.match(name):
        problems.add(
            doc.key_loc(path),
            where,
            f"'{name}' is not a valid group name",
            "use letters, digits and _, starting with a letter (dots are for `group.cell` addresses)",
        )
        return False
    if (*path, "<key>") in doc.yaml11:
        problems.add(
            doc.key_loc(path), where, doc.yaml11[(*path, "<key>")], f"quote the name ('{name}') or rename the group"
        )
    if not isinstance(body, dict):
        problems.add(
            doc.loc(path),
            where,
            f"expected a mapping such as `{{type: hidden, size: 4}}`, got {kind_of(body)}",
            f"write `{name}: {{type: hidden, size: 4}}`",
        )
        return False
    return True


# ---------------------------------------------------------------------------- cells: plain groups


def _expand_group(
    doc: Document, name: str, body: dict[str, Any], path: KeyPath, ctx: _Context, problems: Problems
) -> _Composed | None:
    """A plain group: ``repeat`` chained copies of one cell type, with optional residual skips.

    Returns None when the entry is too broken to place (no usable type or repeat count).
    """
    ctype = _cell_type(doc, name, body, path, problems)
    counts = _repeat_counts(doc, body, path, ctx, problems) if ctype is not None else None
    if ctype is None or counts is None:
        return None
    count, residual = counts
    where = format_path(path)
    style = _cell_style(doc, body, path, problems)
    options = {k: v for k, v in body.items() if k not in STRUCTURAL_CELL_KEYS}
    option_locs = {k: doc.loc((*path, k)) for k in body}
    key_locs = {k: doc.key_loc((*path, k)) for k in body}
    yaml11 = {k: doc.yaml11[(*path, k)] for k in options if (*path, k) in doc.yaml11}
    ctx.cells_total += count
    _check_cell_total(ctx, doc.key_loc(path), where)
    names = tuple(f"{name}.{i}" for i in range(1, count + 1)) if "repeat" in body else (name,)
    share = _share_value(doc, body, path, problems)
    share_loc = doc.loc((*path, "share")) if "share" in body else None
    out = _Composed()
    for i, final in enumerate(names, start=1):
        shares = share if isinstance(share, str) else (names[0] if share is True and i > 1 else None)
        out.cells.append(
            CellSpec(
                name=final,
                type=ctype,
                options=MappingProxyType(options),
                loc=doc.key_loc(path),
                path=where,
                option_locs=MappingProxyType(option_locs),
                key_locs=MappingProxyType(key_locs),
                yaml11=MappingProxyType(yaml11),
                group=name,
                repeat=(i, count) if "repeat" in body else None,
                style=MappingProxyType(style),
                shares=shares,
                share_loc=share_loc if shares is not None else None,
            )
        )
    out.groups.entries[name], out.groups.exits[name], out.groups.members[name] = names[:1], names[-1:], names
    out.edges = _repeat_edges(doc, path, names, residual)
    return out


def _cell_type(doc: Document, name: str, body: dict[str, Any], path: KeyPath, problems: Problems) -> str | None:
    """The group's written cell type (checked against the registry later), or None if unusable.

    `params:`, `bind:` and `chain:` belong to `use:` groups; here they are reported but do not stop the group.
    """
    where = format_path(path)
    if "type" not in body:
        problems.add(
            doc.loc(path),
            where,
            "missing 'type'",
            "give the cell type, e.g. `type: hidden` (see `cellgraph cells`), or `use: part.yaml`",
        )
        return None
    for key in ("params", "bind", "chain"):
        if key in body:
            problems.add(
                doc.key_loc((*path, key)),
                format_path((*path, key)),
                f"'{key}' is only valid with `use:`",
                f"remove '{key}'",
            )
    ctype = body["type"]
    if not isinstance(ctype, str):
        problems.add(
            doc.loc((*path, "type")),
            f"{where}.type",
            f"expected a cell type name, got {kind_of(ctype)}",
            "e.g. `type: hidden`",
        )
        return None
    return ctype


def _repeat_counts(
    doc: Document, body: dict[str, Any], path: KeyPath, ctx: _Context, problems: Problems
) -> tuple[int, int] | None:
    """``(repeat, residual)``: 1 and 0 when not written; None when `repeat:` is unusable.

    A bad `residual:` is reported and adds no skips, since the copies can still be chained.
    """
    count = 1
    if "repeat" in body:
        count = (
            check_positive_int(
                doc,
                body["repeat"],
                (*path, "repeat"),
                problems,
                ctx.limits.max_repeat,
                "repeat to the number of chained copies, e.g. `repeat: 3`",
            )
            or 0
        )
        if not count:
            return None
    return count, (_plain_residual(doc, body, path, count, ctx, problems) if "residual" in body else 0)


def _plain_residual(
    doc: Document, body: dict[str, Any], path: KeyPath, count: int, ctx: _Context, problems: Problems
) -> int:
    """The skip distance ``k`` of a plain group's `residual:`, or 0 (reported) when unusable.

    `residual: true` is the composed-block form (one skip around each copy of a `use:` part): a
    plain group's copies are single groups that `repeat:` already joins, so it is refused here
    with a pointer to both forms.
    """
    where, loc, value = f"{format_path(path)}.residual", doc.loc((*path, "residual")), body["residual"]
    if isinstance(value, bool):
        problems.add(
            loc,
            where,
            f"on a plain group, residual is a skip distance in groups, got {kind_of(value)}",
            "write `residual: 2` (skips h.1 => h.3 => h.5 ...), or repeat a composed block "
            "(`use: block.yaml, repeat: N, residual: true`) for one skip around each block",
        )
        return 0
    residual = check_positive_int(
        doc,
        value,
        (*path, "residual"),
        problems,
        ctx.limits.max_repeat,
        "residual to the skip distance in groups, e.g. `residual: 2`",
    )
    if residual == 1:
        problems.add(
            loc,
            where,
            "residual 1 would join neighbours, which `repeat:` already chains",
            "use `residual: 2` (a skip over one group) or more",
        )
        return 0
    if residual and residual >= count:
        problems.add(
            loc,
            where,
            f"residual {residual} needs repeat > {residual} (repeat is {count})",
            f"set `repeat:` to at least {residual + 1}, or remove `residual:`",
        )
    return residual or 0


def _cell_style(doc: Document, body: dict[str, Any], path: KeyPath, problems: Problems) -> dict[str, Any]:
    """The group's `style:` drawing attributes; a non-mapping is reported and drawn with none."""
    style = body.get("style", {})
    if not isinstance(style, dict):
        problems.add(
            doc.loc((*path, "style")),
            f"{format_path(path)}.style",
            f"expected a mapping of drawing attributes, got {kind_of(style)}",
            "e.g. `style: {fill: '#66CC00'}`",
        )
        return {}
    return style


def _repeat_edges(doc: Document, path: KeyPath, names: tuple[str, ...], residual: int) -> list[EdgeSpec]:
    """The implicit edges of a repeated group: ``h.i -> h.(i+1)``, and ``h.i => h.(i+k)`` skips.

    They are located at the `repeat:` / `residual:` that made them, so a problem with one (a
    shape mismatch on a skip) points at the line to change.
    """
    where = format_path(path)
    edges = [
        EdgeSpec(a, b, "->", None, 0, doc.loc((*path, "repeat")), f"{where}.repeat", implicit=True)
        for a, b in zip(names, names[1:], strict=False)
    ]
    count = len(names)
    if residual and residual < count:
        for i in range(0, count - residual, residual):
            edges.append(
                EdgeSpec(
                    names[i],
                    names[i + residual],
                    "=>",
                    "identity",
                    0,
                    doc.loc((*path, "residual")),
                    f"{where}.residual",
                    implicit=True,
                )
            )
    return edges


# ---------------------------------------------------------------------------- cells: `use:` parts


def _compose_part(
    doc: Document, name: str, body: dict[str, Any], path: KeyPath, ctx: _Context, problems: Problems
) -> _Composed | None:
    """A `use:` group: the part's spec, built with its own params, inlined as ``name.cell``.

    Steps: check where it points, read and build it, bind its inputs to parent groups, then
    rename what is left under ``name.`` (or, with `repeat:` / `residual:`, chain its copies).
    Returns None when it cannot be read, built or chained (the problems say why), so the group
    stays undeclared and edges to it are not reported twice.
    """
    ref = _resolve_part(doc, name, body, path, ctx, problems)
    sub = _load_part(doc, body, path, ref, ctx, problems) if ref is not None else None
    if ref is None or sub is None:
        return None
    bindings = _bind_part(doc, body, path, ref, sub, problems)
    chain = _part_chain(doc, body, path, ref, sub, ctx, problems)
    if chain is None:
        return None
    share = _share_value(doc, body, path, problems)
    tied = (share, doc.loc((*path, "share"))) if share is not None else None
    if not chain.links:  # neither `repeat:` nor `residual:`: the part once, as written
        if share is True:
            problems.add(
                doc.loc((*path, "share")),
                f"{format_path(path)}.share",
                "`share: true` ties the copies of a repeated group, and this `use:` group is used once",
                "name the `use:` group to share parameters with (`share: other`), or add `repeat: N`",
            )
            tied = None
        out = _prefix_part(name, sub, {b.dropped.name: b.target for b in bindings}, tied)
        out.bindings = bindings
        return out
    return _chain_copies(doc, name, path, sub, bindings, chain, tied)


def _resolve_part(
    doc: Document, name: str, body: dict[str, Any], path: KeyPath, ctx: _Context, problems: Problems
) -> _PartRef | None:
    """Where a `use:` points, checked before anything is read; None (reported) when it may not be.

    The path must be plain text that stays inside the allowed folders (``allow:``), so a spec
    cannot read an arbitrary file; and it must not revisit a spec being composed or nest past
    ``max_include_depth``, so composition always ends.
    """
    where = format_path(path)
    check_keys(doc, body, path, USE_KEYS, problems, f"group '{name}' (a `use:` group)")
    target = body["use"]
    loc = doc.loc((*path, "use"))
    key = f"{where}.use"
    if not isinstance(target, str) or not target.strip():
        problems.add(
            loc,
            key,
            f"expected a relative file path, got {kind_of(target)}",
            "e.g. `use: ../parts/encoder.yaml`",
        )
        return None
    if has_control_char(target):
        problems.add(
            loc,
            key,
            "the path holds a control character (a NUL, a newline, ...)",
            "write a plain relative path such as `use: parts/encoder.yaml`",
        )
        return None
    shown = target if len(target) <= 200 else target[:200] + "..."
    file = _folder(doc.file) / target
    resolved_path = confined(file, ctx.shared.roots)
    if resolved_path is None:
        message, fix = outside_message(shown, ctx.shared.roots)
        problems.add(loc, key, message, fix)
        return None
    resolved = str(resolved_path)
    if resolved in ctx.stack:
        chain = " -> ".join(Path(s).name for s in (*ctx.stack, resolved))
        problems.add(loc, key, f"include cycle: {chain}", "a part cannot use itself, directly or through other parts")
        return None
    if len(ctx.stack) >= ctx.limits.max_include_depth:
        problems.add(
            loc,
            key,
            f"`use:` nested deeper than {ctx.limits.max_include_depth} files",
            "flatten the composition",
        )
        return None
    return _PartRef(target, shown, file, resolved, loc, key)


def _load_part(
    doc: Document, body: dict[str, Any], path: KeyPath, ref: _PartRef, ctx: _Context, problems: Problems
) -> Spec | None:
    """The part built as a spec of its own, with the group's `params:`; None when it cannot be.

    Its problems join the parent's, located in the part's file. A budget of the whole load
    (:class:`LimitError`) is raised at once: one error, not one per sibling `use:`.
    """
    where = format_path(path)
    sub_params = body.get("params", {})
    if not isinstance(sub_params, dict):
        problems.add(
            doc.loc((*path, "params")),
            f"{where}.params",
            f"expected a mapping of param values, got {kind_of(sub_params)}",
            "e.g. `params: {width: 8}`",
        )
        return None
    try:
        text, sub_doc = _read_part(ref, ctx)
        sub = _build(
            text,
            str(ref.file),
            _Context(ctx.limits, (*ctx.stack, ref.resolved), ctx.cells_total, ctx.shared),
            overrides=dict(sub_params),
            override_loc=doc.loc((*path, "params")),
            raw_doc=sub_doc,
        )
    except LimitError:
        raise
    except SpecError as err:
        problems.extend(err.problems)
        return None
    problems.extend(sub.problems)  # the part's own problems, located in its file
    ctx.cells_total += len(sub.cells)
    _check_cell_total(ctx, ref.loc, where)
    return sub


def _read_part(ref: _PartRef, ctx: _Context) -> tuple[str, Document]:
    """A part's text and parsed document, within the load's budget; each file parsed once.

    Every `use:` counts against ``max_parts``, and its YAML values against
    ``max_composed_values`` (the work of instantiating it), so nine small files that each use
    the next four times (4^8 copies) stop at the first `use:` past the budget, in milliseconds,
    instead of after building 65,536 copies; and a few large parts cannot add up past what one
    large spec may hold. Errors about a file that is not a spec name only the file and the
    problem, never its content.
    """
    shared = ctx.shared
    cache_key = (ref.resolved, str(ref.file))
    cached = shared.parsed.get(cache_key)
    if cached is None:
        try:
            text = read_text(ref.file, ctx.limits)
        except SpecError as err:
            raise SpecError([_part_problem(p, ref) for p in err.problems]) from None
        if not _SPEC_MARK.search(text):
            raise spec_error(
                ref.loc,
                ref.key,
                f"'{ref.shown}' is not a cellgraph spec (it has no top-level `cellgraph:` key); its content is not shown",
                "point `use:` at a spec file that starts with `cellgraph: 1`",
            )
        cached = (text, load_document(text, str(ref.file), ctx.limits))
        shared.parsed[cache_key] = cached
    shared.parts += 1
    shared.composed_values += len(cached[1].locs)
    if shared.parts > ctx.limits.max_parts or shared.composed_values > ctx.limits.max_composed_values:
        size = (
            f"more than {ctx.limits.max_parts:,} `use:` parts"
            if shared.parts > ctx.limits.max_parts
            else f"more than {ctx.limits.max_composed_values:,} YAML values"
        )
        raise LimitError(
            [
                Problem(
                    ref.loc,
                    ref.key,
                    f"the composition holds {size} in all (each `use:` counts every time it is reached)",
                    "use parts fewer times; a `use:` inside a part that is itself used many times multiplies",
                )
            ]
        )
    return cached


def _part_problem(problem: Problem, ref: _PartRef) -> Problem:
    """A problem reading a part's file, located at the `use:` that names it."""
    if problem.message == "file not found":
        return Problem(ref.loc, ref.key, f"'{ref.shown}': file not found", "give a path relative to this spec's folder")
    return Problem(ref.loc, ref.key, f"'{ref.shown}': {problem.message}", problem.fix)


def _check_cell_total(ctx: _Context, loc: SourceLoc, where: str) -> None:
    if ctx.cells_total > ctx.limits.max_cells:
        raise LimitError(
            [
                Problem(
                    loc,
                    where,
                    f"the network has more than {ctx.limits.max_cells:,} cell groups",
                    "use fewer or larger groups",
                )
            ]
        )


def _bind_part(
    doc: Document, body: dict[str, Any], path: KeyPath, ref: _PartRef, sub: Spec, problems: Problems
) -> list[Binding]:
    """The part's input groups that `bind:` replaces with parent groups, in written order.

    A bound group is dropped from the part and its edges are rewired to the parent group, so a
    part can read from its user (``bind: {x: gen.sample}``). A bad entry is reported and skipped.
    """
    bind = body.get("bind", {})
    if not isinstance(bind, dict):
        problems.add(
            doc.loc((*path, "bind")),
            f"{format_path(path)}.bind",
            f"expected a mapping `part_input: parent_group`, got {kind_of(bind)}",
            "e.g. `bind: {x: gen.sample}`",
        )
        return []
    sub_names = {c.name for c in sub.cells}
    bindings: list[Binding] = []
    for inner, outer in bind.items():
        bpath = (*path, "bind", inner)
        if inner not in sub_names:
            problems.add(
                doc.key_loc(bpath),
                format_path(bpath),
                f"'{ref.target}' has no group '{inner}'{did_you_mean(inner, sub_names)}",
                "bind one of the part's input groups",
            )
            continue
        if not isinstance(outer, str):
            problems.add(
                doc.loc(bpath),
                format_path(bpath),
                f"expected a group name, got {kind_of(outer)}",
                "e.g. `x: gen.sample`",
            )
            continue
        bindings.append(Binding(sub.cell(inner), outer, doc.loc(bpath), format_path(bpath)))
    return bindings


def _share_value(doc: Document, body: dict[str, Any], path: KeyPath, problems: Problems) -> str | bool | None:
    """A group's `share:`: the name of the group whose parameters it uses, ``True`` (the copies of a
    repeated group use the first copy's), or None (not written, ``false``, or reported as unusable)."""
    if "share" not in body:
        return None
    value, where, loc = body["share"], f"{format_path(path)}.share", doc.loc((*path, "share"))
    if value is False:
        return None
    if value is True:
        if "repeat" not in body:
            problems.add(
                loc,
                where,
                "`share: true` ties the copies of a repeated group, and this group is not repeated",
                "name the group to share parameters with (`share: other`), or add `repeat: N`",
            )
            return None
        return True
    if not isinstance(value, str) or not value or not all(CELL_NAME.match(part) for part in value.split(".")):
        problems.add(
            loc,
            where,
            f"expected the name of a group (or true for a repeated group's copies), got {kind_of(value)}",
            "write `share: other_group` to use another group's parameters",
        )
        return None
    return value


def _tie(c: CellSpec, prefix: str, tied: tuple[str | bool, SourceLoc] | None) -> dict[str, Any]:
    """The share of a part's cell once inlined under ``prefix``: the `use:` group's (``tied``:
    the same group of the shared part, implied) or its own, renamed with the part."""
    if tied is not None and isinstance(tied[0], str):
        return {"shares": f"{tied[0]}.{c.name}", "share_loc": tied[1], "share_implied": True}
    if c.shares is not None:
        return {"shares": prefix + c.shares, "share_loc": c.share_loc, "share_implied": c.share_implied}
    return {}


def _prefix_part(
    name: str, sub: Spec, dropped: Mapping[str, str], tied: tuple[str | bool, SourceLoc] | None = None
) -> _Composed:
    """The part's cells and edges renamed ``name.X`` (a bound group: its parent group), and its groups.

    The group ``name`` is entered at the part's sources and left at its sinks (counting only
    forward edges: delayed, symmetric and self edges do not make a cell an inner one); the
    part's own groups stay addressable as ``name.inner``, and their inherited
    `draw.groups.X.show` comes along. ``tied`` is the `use:` group's `share:` (a group name: each
    of the part's groups shares that group's ``X``) and where it was written; a share written
    inside the part is renamed with the part.
    """
    prefix = f"{name}."
    out = _Composed()
    out.cells = [
        CellSpec(
            name=prefix + c.name,
            type=c.type,
            options=c.options,
            loc=c.loc,
            path=c.path,
            option_locs=c.option_locs,
            key_locs=c.key_locs,
            yaml11=c.yaml11,
            group=c.group,
            repeat=c.repeat,
            origin=prefix + c.origin if c.origin else name,
            style=c.style,
            **_tie(c, prefix, tied),
        )
        for c in sub.cells
        if c.name not in dropped
    ]
    rename = {c.name: (dropped[c.name] if c.name in dropped else prefix + c.name) for c in sub.cells}
    out.edges = [
        EdgeSpec(
            rename[e.src],
            rename[e.dst],
            e.op,
            e.kind,
            e.delay,
            e.loc,
            e.path,
            e.options,
            e.option_locs,
            e.implicit,
            key_locs=e.key_locs,
        )
        for e in sub.edges
    ]
    has_in, has_out = _fed_and_feeding(sub)
    kept = [c.name for c in sub.cells if c.name not in dropped]
    groups = out.groups
    groups.entries[name] = tuple(prefix + n for n in kept if n not in has_in)
    groups.exits[name] = tuple(prefix + n for n in kept if n not in has_out)
    groups.members[name] = tuple(prefix + n for n in kept)
    for inner, names in sub.groups.items():
        if inner not in dropped:
            groups.members[prefix + inner] = tuple(prefix + n for n in names)
            groups.entries[prefix + inner] = (prefix + names[0],)
            groups.exits[prefix + inner] = (prefix + names[-1],)
    sub_groups = sub.draw.get("groups")
    for key, value in sub_groups.items() if isinstance(sub_groups, dict) else ():
        if key not in dropped and isinstance(value, dict) and "show" in value:
            groups.shown[prefix + key] = value["show"]
    for key, value in sub.inherited_show.items():
        groups.shown.setdefault(prefix + key, value)
    return out


def _fed_and_feeding(sub: Spec) -> tuple[set[str], set[str]]:
    """The part's cells with an incoming and with an outgoing forward edge (delayed, symmetric and
    self edges do not count): the others are where the part is entered and left."""
    forward = [e for e in sub.edges if e.delay == 0 and e.kind != "symmetric" and e.src != e.dst]
    return {e.dst for e in forward}, {e.src for e in forward}


# ------------------------------------------------------------------ cells: repeated `use:` parts


@dataclass(frozen=True)
class _Link:
    """One chained input: each copy's ``inner`` reads the previous copy's ``outer`` (the part's names)."""

    inner: str
    outer: str
    loc: SourceLoc  # the `chain:` entry, or the `repeat:` / `residual:` that implied the link
    path: str


@dataclass(frozen=True)
class _Chain:
    """How a `use:` group's copies join; no links: the part is used once, as written."""

    prefixes: tuple[str, ...] = ()  # each copy's name, ``block.1`` ... (``block`` itself without `repeat:`)
    links: tuple[_Link, ...] = ()
    residual: bool = False  # one identity skip around each copy


class _Miss(NamedTuple):
    """Why a `chain:` entry cannot be used: reported at its key (``at_key``) or at its value."""

    at_key: bool
    message: str
    fix: str


def _part_chain(
    doc: Document, body: dict[str, Any], path: KeyPath, ref: _PartRef, sub: Spec, ctx: _Context, problems: Problems
) -> _Chain | None:
    """How the copies of a `use:` group chain: an empty chain without `repeat:` and `residual:`.

    None (reported) when `repeat:` is unusable or the part's chained ends are unclear. All the
    copies count against ``max_cells`` before any is built.
    """
    count = _use_count(doc, body, path, ctx, problems)
    residual = _use_residual(doc, body, path, problems)
    if count is None:
        return None
    if "repeat" not in body and not residual:
        if "chain" in body:
            problems.add(
                doc.key_loc((*path, "chain")),
                format_path((*path, "chain")),
                "`chain:` links the copies of a repeated part, and this group has no `repeat:`",
                "add `repeat: N`, or remove `chain:`",
            )
        return _Chain()
    links = _chain_links(doc, body, path, ref, sub, problems)
    if links is None or (residual and not _residual_fits(doc, path, ref, sub, links, problems)):
        return None
    ctx.cells_total += (count - 1) * len(sub.cells)
    _check_cell_total(ctx, doc.key_loc(path), format_path(path))
    name = str(path[-1])
    prefixes = tuple(f"{name}.{i}" for i in range(1, count + 1)) if "repeat" in body else (name,)
    return _Chain(prefixes, links, residual)


def _use_count(doc: Document, body: dict[str, Any], path: KeyPath, ctx: _Context, problems: Problems) -> int | None:
    """How many copies of the part: 1 without `repeat:`, None (reported) when it is unusable."""
    if "repeat" not in body:
        return 1
    return check_positive_int(
        doc,
        body["repeat"],
        (*path, "repeat"),
        problems,
        ctx.limits.max_repeat,
        "repeat to the number of chained copies of the part, e.g. `repeat: 10`",
    )


def _use_residual(doc: Document, body: dict[str, Any], path: KeyPath, problems: Problems) -> bool:
    """`residual:` of a `use:` group: true or false; anything else is reported and adds no skips.

    A skip distance (``residual: 2``) means groups of a plain repeat; a copy of a part is already a
    whole block, so the only skip that fits is the one around it.
    """
    value = body.get("residual", False)
    if isinstance(value, bool):
        return value
    problems.add(
        doc.loc((*path, "residual")),
        f"{format_path(path)}.residual",
        f"on a `use:` group, residual is true or false (one identity skip around each copy), got {kind_of(value)}",
        "write `residual: true`; a skip distance such as `residual: 2` is for a plain repeated group",
    )
    return False


def _residual_fits(
    doc: Document, path: KeyPath, ref: _PartRef, sub: Spec, links: tuple[_Link, ...], problems: Problems
) -> bool:
    """Whether `residual: true` can add its skips: one chained input (where each copy starts), and
    no such skip written in the part already (two connections between the same groups)."""
    where, loc = f"{format_path(path)}.residual", doc.loc((*path, "residual"))
    if len(links) != 1:
        problems.add(
            loc,
            where,
            f"`residual: true` skips from a copy's input to its output, and `chain:` names {len(links)} inputs "
            f"({', '.join(link.inner for link in links)})",
            "remove `residual:` and write the skips inside the part (`x => out`), or chain one input",
        )
        return False
    (link,) = links
    if any(e.src == link.inner and e.dst == link.outer for e in sub.edges):
        problems.add(
            loc,
            where,
            f"'{ref.shown}' already connects {link.inner} to {link.outer}; `residual: true` would add that skip again",
            "remove `residual: true` (the part has its skip), or remove the skip from the part",
        )
        return False
    return True


def _chain_links(
    doc: Document, body: dict[str, Any], path: KeyPath, ref: _PartRef, sub: Spec, problems: Problems
) -> tuple[_Link, ...] | None:
    """Which input of each copy reads which group of the previous one: `chain:`, or else the part's
    only input group and only last group (None, reported, when it has several of either)."""
    has_in, has_out = _fed_and_feeding(sub)
    sources = [c.name for c in sub.cells if c.name not in has_in]
    if "chain" in body:
        return _written_links(doc, body, path, ref, sub, sources, problems)
    sinks = [c.name for c in sub.cells if c.name not in has_out and c.name not in sources]
    key = (*path, "repeat" if "repeat" in body else "residual")
    miss = _ends_miss(ref, sources, sinks, str(key[-1]))
    if miss is not None:
        problems.add(doc.loc(key), format_path(key), miss.message, miss.fix)
        return None
    return (_Link(sources[0], sinks[0], doc.loc(key), format_path(key)),)


def _ends_miss(ref: _PartRef, sources: list[str], sinks: list[str], key: str) -> _Miss | None:
    """Why the part's own ends cannot chain it: not exactly one input group and one last group."""
    example = f"`chain: {{{(sources or ['x'])[0]}: {(sinks or ['out'])[0]}}}`"
    fix = f"name them: {example} (each copy's input reads the previous copy's output)"
    if len(sources) != 1:
        found = f"{len(sources)} input groups ({', '.join(sources[:6])})" if sources else "no input group"
        return _Miss(False, f"'{ref.shown}' has {found}; `{key}:` chains copies through exactly one", fix)
    if len(sinks) != 1:
        found = f"{len(sinks)} last groups ({', '.join(sinks[:6])})" if sinks else "no group after its input"
        return _Miss(False, f"'{ref.shown}' has {found}; `{key}:` cannot tell which one the next copy reads", fix)
    return None


def _written_links(
    doc: Document,
    body: dict[str, Any],
    path: KeyPath,
    ref: _PartRef,
    sub: Spec,
    sources: list[str],
    problems: Problems,
) -> tuple[_Link, ...] | None:
    """The links of `chain: {part_input: part_group}`; None when any entry is unusable (reported)."""
    cpath: KeyPath = (*path, "chain")
    raw = body["chain"]
    if not isinstance(raw, dict) or not raw:
        problems.add(
            doc.loc(cpath),
            format_path(cpath),
            f"expected a mapping `part_input: part_group`, got {kind_of(raw)}",
            "e.g. `chain: {x: out}`: each copy's x reads the previous copy's out",
        )
        return None
    bind = body.get("bind")
    taken = set(raw) | (set(bind) if isinstance(bind, dict) else set())
    links = []
    for inner, outer in raw.items():
        lpath: KeyPath = (*cpath, inner)
        found = _link_target(str(inner), outer, ref, sub, sources, taken)
        if isinstance(found, _Miss):
            problems.add(
                doc.key_loc(lpath) if found.at_key else doc.loc(lpath), format_path(lpath), found.message, found.fix
            )
        else:
            links.append(_Link(str(inner), found, doc.loc(lpath), format_path(lpath)))
    return tuple(links) if len(links) == len(raw) else None


def _link_target(inner: str, outer: Any, ref: _PartRef, sub: Spec, sources: list[str], taken: set[str]) -> str | _Miss:
    """The part cell whose value the next copy's ``inner`` reads (a repeated group of the part
    stands for its last copy), or why the entry cannot be used."""
    names = [c.name for c in sub.cells]
    inputs = ", ".join(sources) or "(none)"
    if inner not in names:
        return _Miss(
            True,
            f"'{ref.target}' has no group '{inner}'{did_you_mean(inner, names)}",
            f"chain one of the part's input groups: {inputs}",
        )
    if inner not in sources:
        return _Miss(
            True,
            f"the part's '{inner}' is fed inside the part; only an input group can read the previous copy",
            f"chain one of the part's input groups: {inputs}",
        )
    if not isinstance(outer, str):
        return _Miss(False, f"expected a group of the part, got {kind_of(outer)}", f"e.g. `{inner}: out`")
    final = outer if outer in names else sub.groups.get(outer, ("",))[-1]
    if not final:
        known = [*names, *sub.groups]
        return _Miss(
            False,
            f"'{ref.target}' has no group '{outer}'{did_you_mean(outer, known)}",
            "name the group of the part the next copy reads, usually its last",
        )
    if final in taken:
        return _Miss(
            False,
            f"the part's '{final}' is replaced through `bind:` or `chain:`, so a copy has none of its own to pass on",
            "chain to a group the part computes, usually its last",
        )
    return final


def _chain_copies(
    doc: Document,
    name: str,
    path: KeyPath,
    sub: Spec,
    bindings: list[Binding],
    chain: _Chain,
    tied: tuple[str | bool, SourceLoc] | None = None,
) -> _Composed:
    """The part once per copy, each copy's chained inputs bound to the previous copy's groups.

    `bind:` feeds every copy, except a chained input after the first copy. The group ``name``
    is entered at the first copy and left at the last; a chained input that copy 1 leaves unbound
    stays an input of the network, which an edge into ``name`` may not feed (see :func:`_no_entry`).
    """
    bound = {b.dropped.name: b.target for b in bindings}
    out = _Composed()
    for i, prefix in enumerate(chain.prefixes):
        chained = {link.inner: f"{chain.prefixes[i - 1]}.{link.outer}" for link in chain.links} if i else {}
        # `share: true`: every copy after the first uses the first copy's parameters
        each = (chain.prefixes[0], tied[1]) if tied is not None and tied[0] is True and i else tied
        out.merge(_prefix_part(prefix, sub, {**bound, **chained}, each if each and each[0] is not True else None))
    out.bindings = [*bindings, *_chained_bindings(sub, chain)]
    out.edges.extend(_residual_skips(doc, path, chain, bound))
    _name_the_whole(out.groups, name, chain, tuple(link.inner for link in chain.links if link.inner not in bound))
    return out


def _name_the_whole(groups: _Groups, name: str, chain: _Chain, unbound: tuple[str, ...]) -> None:
    """Make ``name`` address all the copies: entered at the first copy (but not at a chained input
    it leaves unbound, which `bind:` feeds), left at the last. Records what :func:`_no_entry` reads."""
    first, last = chain.prefixes[0], chain.prefixes[-1]
    skipped = {f"{first}.{inner}" for inner in unbound}
    groups.members[name] = tuple(n for prefix in chain.prefixes for n in groups.members[prefix])
    groups.entries[name] = tuple(n for n in groups.entries[first] if n not in skipped)
    groups.exits[name] = groups.exits[last]
    groups.unbound.update({prefix: () for prefix in chain.prefixes})
    groups.unbound[name] = unbound


def _chained_bindings(sub: Spec, chain: _Chain) -> list[Binding]:
    """The links of copy 2, checked like `bind:` (shapes must agree); every later copy is the same part."""
    if len(chain.prefixes) < 2:
        return []
    return [
        Binding(sub.cell(link.inner), f"{chain.prefixes[0]}.{link.outer}", link.loc, link.path) for link in chain.links
    ]


def _residual_skips(doc: Document, path: KeyPath, chain: _Chain, bound: Mapping[str, str]) -> list[EdgeSpec]:
    """`residual: true`: ``input => output`` around each copy, one skip per copy.

    A copy's input is what its chained input reads: the previous copy's output, and for the first
    copy its `bind:` target (or its own input group when unbound). Located at `residual:`.
    """
    if not chain.residual:
        return []
    (link,) = chain.links
    first = bound.get(link.inner, f"{chain.prefixes[0]}.{link.inner}")
    starts = [first, *(f"{prefix}.{link.outer}" for prefix in chain.prefixes[:-1])]
    loc, where = doc.loc((*path, "residual")), f"{format_path(path)}.residual"
    return [
        EdgeSpec(start, f"{prefix}.{link.outer}", "=>", "identity", 0, loc, where, implicit=True)
        for start, prefix in zip(starts, chain.prefixes, strict=True)
    ]


# ---------------------------------------------------------------------------------------- edges


def _expand_edges(doc: Document, cells: list[CellSpec], groups: _Groups, problems: Problems) -> list[EdgeSpec]:
    raw = doc.data.get("edges")
    if not isinstance(raw, list):
        return []
    names = {c.name for c in cells}
    addressable = names | set(groups.members)
    out: list[EdgeSpec] = []
    for index, item in enumerate(raw):
        path: KeyPath = ("edges", index)
        where = format_path(path)
        loc = doc.loc(path)
        if isinstance(item, str):
            out.extend(
                _statement_edges(doc, item, path, loc, groups=groups, addressable=addressable, problems=problems)
            )
        elif isinstance(item, dict) and ("from" in item or "to" in item):
            out.extend(_mapping_edges(doc, item, path, groups, addressable, problems))
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict | type(None)):
            statement, options = next(iter(item.items()))
            options = options or {}
            opt_locs = {k: doc.loc((*path, statement, k)) for k in options}
            key_locs = {k: doc.key_loc((*path, statement, k)) for k in options}
            stmt_loc = doc.key_loc((*path, statement))
            out.extend(
                _statement_edges(
                    doc,
                    statement,
                    path,
                    stmt_loc,
                    groups=groups,
                    addressable=addressable,
                    problems=problems,
                    options=options,
                    option_locs=opt_locs,
                    key_locs=key_locs,
                )
            )
        else:
            problems.add(
                loc,
                where,
                f"expected an edge statement, got {kind_of(item)}",
                "write `- a -> b`, `- a -> b: {trainable: false}` or `- {from: a, to: b, kind: dense}`",
            )
    return out


def _statement_edges(
    doc: Document,
    text: str,
    path: KeyPath,
    loc: SourceLoc,
    *,
    groups: _Groups,
    addressable: set[str],
    problems: Problems,
    options: dict[str, Any] | None = None,
    option_locs: dict[str, SourceLoc] | None = None,
    key_locs: dict[str, SourceLoc] | None = None,
) -> list[EdgeSpec]:
    """The edges of one statement (``a -> b ~> c``) written at ``loc``, with its options if any.

    ``options`` (and where each was written) come from the mapping form ``- a -> b: {...}``.
    """
    where = format_path(path)
    option_locs = {} if option_locs is None else option_locs
    shift = 1 if path in doc.quoted else 0  # a quoted statement starts after its quote mark
    try:
        hops = parse_statement(text)
    except StatementError as err:
        at = SourceLoc(loc.file, loc.line, loc.col + shift + err.offset)
        problems.add(at, where, f"{err} in '{clip(text, 80)}'", err.fix)
        return []
    out: list[EdgeSpec] = []
    options = dict(options or {})
    written_kind, written_delay = options.pop("kind", None), options.pop("delay", None)
    for hop in hops:
        kind, delay = OPERATORS[hop.op]
        if written_kind is not None:
            if kind is not None and written_kind != kind:
                problems.add(
                    option_locs.get("kind", loc),
                    f"{where}.kind",
                    f"`{hop.op}` already means a {kind} connection; `kind: {written_kind}` contradicts it",
                    "remove `kind:`, or write the statement with `->`",
                )
            kind = written_kind if isinstance(written_kind, str) else kind
        if written_delay is not None:
            if written_delay not in (0, 1) or isinstance(written_delay, bool):
                problems.add(
                    option_locs.get("delay", loc),
                    f"{where}.delay",
                    f"expected 0 or 1, got {kind_of(written_delay)}",
                    "use `~>` (or `delay: 1`) for a connection from the previous time step",
                )
            else:
                delay = max(delay, int(written_delay))
        for left in hop.left:
            for right in hop.right:
                ok = True
                for ref in (left, right):
                    if ref.name not in addressable:
                        ok = False
                        if groups.is_broken(ref.name):
                            continue  # its declaration was reported; "unknown group" would mislead
                        problems.add(
                            SourceLoc(loc.file, loc.line, loc.col + shift + ref.offset),
                            where,
                            f"unknown group '{ref.name}'{did_you_mean(ref.name, addressable)}",
                            "declare it under `cells:` or fix the name; groups: "
                            + ", ".join(sorted(groups.members)[:12]),
                        )
                if not ok:
                    continue
                miss = _no_entry(left.name, right.name, groups)
                if miss is not None:
                    problems.add(SourceLoc(loc.file, loc.line, loc.col + shift + right.offset), where, *miss)
                    continue
                for s, d in _endpoints(left.name, right.name, groups):
                    out.append(
                        EdgeSpec(
                            s,
                            d,
                            hop.op,
                            kind,
                            delay,
                            loc,
                            where,
                            MappingProxyType(dict(options)),
                            MappingProxyType(option_locs),
                            key_locs=MappingProxyType(key_locs or {}),
                        )
                    )
    return out


def _endpoints(src: str, dst: str, groups: _Groups) -> list[tuple[str, str]]:
    """The (src, dst) pairs of final names that an edge between two written names joins.

    A repeated or composed group is entered at its entry cells and left at its exit cells; a
    self-edge on a repeated group (``h ~> h``) becomes one self-edge per copy.
    """
    if src == dst and src in groups.members and len(groups.members[src]) > 1:
        return [(m, m) for m in groups.members[src]]
    return [(s, d) for s in groups.exits.get(src, (src,)) for d in groups.entries.get(dst, (dst,))]


def _no_entry(src: str, dst: str, groups: _Groups) -> tuple[str, str] | None:
    """(message, fix) when an edge into a repeated `use:` group (or one copy of it) would join
    nothing: every input of the part is fed through `bind:` or by the previous copy, or is the
    input the repeat chains, which `bind:` feeds. Without this the edge would vanish without a word.

    (A `use:` group used once whose inputs are all bound drops such an edge the same way; that is
    left as it was, so a spec that validated before still does.)
    """
    if src == dst or dst not in groups.unbound or groups.entries.get(dst):
        return None
    unbound = groups.unbound.get(dst)
    if unbound:
        return (
            f"'{dst}' starts at the part's input group '{unbound[0]}', which a repeated part reads through `bind:`",
            f"write `bind: {{{unbound[0]}: {src}}}` on '{dst}' instead of this edge",
        )
    return (
        f"an edge into '{dst}' feeds nothing: its part's input groups are all bound (`bind:`, or the previous copy)",
        f"remove this edge, or connect to one of its groups by name ({src} -> {dst}.<group>)",
    )


def _mapping_edges(
    doc: Document, item: dict[str, Any], path: KeyPath, groups: _Groups, addressable: set[str], problems: Problems
) -> list[EdgeSpec]:
    where = format_path(path)
    for key in ("from", "to"):
        if key not in item:
            problems.add(doc.loc(path), where, f"missing '{key}'", "write `{from: a, to: b}`")
    if "from" not in item or "to" not in item:
        return []
    ends: list[list[str]] = []
    for key in ("from", "to"):
        value = item[key]
        values = value if isinstance(value, list) else [value]
        good = []
        for i, v in enumerate(values):
            vpath = (*path, key, i) if isinstance(value, list) else (*path, key)
            if isinstance(v, str) and v not in addressable and groups.is_broken(v):
                continue  # its declaration was reported
            if not isinstance(v, str) or v not in addressable:
                problems.add(
                    doc.loc(vpath),
                    format_path(vpath),
                    f"unknown group {v!r}{did_you_mean(str(v), addressable)}",
                    "name a group declared under `cells:`",
                )
            else:
                good.append(v)
        ends.append(good)
    kind = item.get("kind")
    delay = item.get("delay", 0)
    if not isinstance(delay, int) or isinstance(delay, bool) or delay not in (0, 1):
        problems.add(
            doc.loc((*path, "delay")),
            f"{where}.delay",
            f"expected 0 or 1, got {kind_of(delay)}",
            "use `delay: 1` for a connection from the previous time step",
        )
        delay = 0
    if kind is not None and not isinstance(kind, str):
        problems.add(
            doc.loc((*path, "kind")),
            f"{where}.kind",
            f"expected a connection kind, got {kind_of(kind)}",
            "e.g. `kind: dense`",
        )
        kind = None
    options = {k: v for k, v in item.items() if k not in EDGE_MAPPING_KEYS}
    opt_locs = {k: doc.loc((*path, k)) for k in item}
    key_locs = {k: doc.key_loc((*path, k)) for k in item}
    out = []
    for s in ends[0]:
        for d in ends[1]:
            miss = _no_entry(s, d, groups)
            if miss is not None:
                problems.add(doc.loc((*path, "to")), f"{where}.to", *miss)
                continue
            for a, b in _endpoints(s, d, groups):
                out.append(
                    EdgeSpec(
                        a,
                        b,
                        "{}",
                        kind,
                        int(delay),
                        doc.loc(path),
                        where,
                        MappingProxyType(options),
                        MappingProxyType(opt_locs),
                        key_locs=MappingProxyType(key_locs),
                    )
                )
    return out

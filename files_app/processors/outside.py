"""Processors from outside the project, named by dotted path in the `FILE_PROCESSORS` setting
(docs/processors.md): each adds a kind of its own or replaces the built-in processor of a kind.

An outside processor is an object (a class is instantiated once, with no arguments) with:
- `kind`: an upper-case name. A built-in kind (`TEXT`, `OTHER`, …) replaces that kind's
  processor; any other name is a kind of its own, whose files are stored as `CUSTOM`.
- `process(source) -> Result`: the built-ins' signature (`base.py`), run by the same `run()`,
  so the same time limit, memory cap, result bounds and failure codes apply to it.
- for a kind of its own, `extensions` (the file names it claims, `(".md",)`) and optionally
  `sniffed_as` (the built-in kinds the bytes must sniff as, `("TEXT",)`: the bytes have a
  say, not only the name; empty, any).

Its result is stored as `{"custom_kind": kind, "data": fields}` and served as GraphQL's
`CustomResult { kind data }`: the schema is the same whatever the deployment loads.
"""

import functools
import importlib
import re
from dataclasses import dataclass, field

from .base import Processor
from .kinds import FileKind

# The stored result's key naming an outside processor's kind; no built-in result has it.
CUSTOM_KIND = "custom_kind"
KIND_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
REPLACEABLE = frozenset(FileKind) - {FileKind.CUSTOM}


class ProcessorConfigError(ValueError):
    """`FILE_PROCESSORS` names something that is not a processor: said at worker start."""


@dataclass(frozen=True)
class OutsideProcessor:
    path: str
    kind: str
    process: Processor
    extensions: tuple[str, ...] = ()
    sniffed_as: tuple[str, ...] = ()

    @property
    def own_kind(self) -> bool:
        return self.kind not in REPLACEABLE

    def claims(self, name: str, sniffed_kind: str) -> bool:
        """A file of this processor's own kind: its name, and what its bytes sniffed as."""
        return name.lower().endswith(self.extensions) and (
            not self.sniffed_as or sniffed_kind in self.sniffed_as
        )


@dataclass(frozen=True)
class OutsideProcessors:
    own_kinds: tuple[OutsideProcessor, ...] = ()
    replacing: dict[str, OutsideProcessor] = field(default_factory=dict)

    def choose(self, name: str, sniffed_kind: str) -> OutsideProcessor | None:
        """The outside processor for a file, if any: one of a kind of its own first (a `.md`
        file is Markdown before it is text), else the one replacing its sniffed kind."""
        for processor in self.own_kinds:
            if processor.claims(name, sniffed_kind):
                return processor
        return self.replacing.get(sniffed_kind)


NONE = OutsideProcessors()


def load(path: str) -> OutsideProcessor:
    module_name, _, attribute = path.strip().rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ProcessorConfigError(f"FILE_PROCESSORS: cannot import {path!r}: {error}") from error
    processor = found() if isinstance(found, type) else found
    kind, process = getattr(processor, "kind", None), getattr(processor, "process", None)
    if not isinstance(kind, str) or not KIND_NAME.fullmatch(kind) or kind == FileKind.CUSTOM:
        raise ProcessorConfigError(
            f"FILE_PROCESSORS: {path!r} needs a `kind`, an upper-case name other than CUSTOM."
        )
    if not callable(process):
        raise ProcessorConfigError(f"FILE_PROCESSORS: {path!r} has no `process(source)`.")
    extensions = tuple(ext.lower() for ext in getattr(processor, "extensions", ()))
    sniffed_as = tuple(getattr(processor, "sniffed_as", ()))
    loaded = OutsideProcessor(path, kind, process, extensions, sniffed_as)
    if loaded.own_kind and not all(ext.startswith(".") for ext in extensions or ("",)):
        raise ProcessorConfigError(
            f"FILE_PROCESSORS: {path!r} is a kind of its own ({kind}): it needs `extensions`, "
            "the file names it claims (`('.md',)`)."
        )
    if unknown := set(sniffed_as) - set(FileKind):
        raise ProcessorConfigError(f"FILE_PROCESSORS: {path!r}: unknown `sniffed_as` {unknown}.")
    return loaded


@functools.cache
def outside_processors(paths: tuple[str, ...]) -> OutsideProcessors:
    """The processors `paths` name, imported once per process; two for one kind are refused."""
    loaded = [load(path) for path in paths if path.strip()]
    kinds = [processor.kind for processor in loaded]
    if twice := sorted({kind for kind in kinds if kinds.count(kind) > 1}):
        raise ProcessorConfigError(f"FILE_PROCESSORS: more than one processor for {twice}.")
    return OutsideProcessors(
        own_kinds=tuple(processor for processor in loaded if processor.own_kind),
        replacing={p.kind: p for p in loaded if not p.own_kind},
    )

"""Processors from outside the service that misbehave, for tests/processing/
test_outside_processors.py (loaded by path, as FILE_PROCESSORS loads any: this folder is not a
package of the project). Each claims its own file extension."""

from files_app.processors import FailureCode, ProcessingError, ProcessingSource, Result

GIB = 1024**3


class Refusing:
    """Says the file is damaged, as a processor should."""

    kind = "REFUSING"
    extensions = (".refuse",)

    def process(self, source: ProcessingSource) -> Result:
        raise ProcessingError("This file says it is damaged.", FailureCode.DAMAGED)


class Buggy:
    """Raises what no processor should: a bug of its own."""

    kind = "BUGGY"
    extensions = (".buggy",)

    def process(self, source: ProcessingSource) -> Result:
        raise RuntimeError("a bug in an outside processor, /srv/secret/path")


class Greedy:
    """Wants more memory than PROCESSING_MEMORY_LIMIT gives a run."""

    kind = "GREEDY"
    extensions = (".greedy",)

    def process(self, source: ProcessingSource) -> Result:
        hoard = bytearray(4 * GIB)
        return Result(fields={"size": len(hoard)})


class Endless:
    """Never finishes: the soft time limit stops it."""

    kind = "ENDLESS"
    extensions = (".endless",)

    def process(self, source: ProcessingSource) -> Result:
        while True:
            source.stream.seek(0)
            source.stream.read(1)


class EveryLine:
    """Replaces the built-in TEXT processor, and returns far more than a result may hold."""

    kind = "TEXT"

    def process(self, source: ProcessingSource) -> Result:
        lines = [line.decode() for line in source.progress_reader()]
        return Result(fields={"lines": lines, "first": lines[0] * 1000 if lines else ""})

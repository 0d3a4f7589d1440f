"""A processor from outside the service (docs/processors.md): Markdown files get their headings,
links and word count.

Load it with `FILE_PROCESSORS=markdown_processor.MarkdownProcessor`, this folder on the
worker's `PYTHONPATH`. A `.md` file whose bytes are text is then of the kind `MARKDOWN`, and
its GraphQL result is `CustomResult { kind: "MARKDOWN", data: {…} }`.

It reads the file once, a line at a time (a line cut at `MAX_LINE_CHARS`), and keeps at most
`MAX_LISTED` headings and links: its memory does not grow with the file.
"""

import io
import re

from files_app.processors import ProcessingSource, Result

MAX_LINE_CHARS = 10_000
MAX_LISTED = 100
MAX_TEXT_CHARS = 200

ATX_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r" {0,3}(=+|-+)[ \t]*$")
FENCE = re.compile(r" {0,3}(```+|~~~+)")
INLINE_LINK = re.compile(r"(!?)\[([^\]]*)\]\(\s*<?([^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^\s<>]+)>")
REFERENCE = re.compile(r" {0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+.*)?$")
WORD = re.compile(r"\w+(?:['’-]\w+)*")


class MarkdownProcessor:
    kind = "MARKDOWN"
    extensions = (".md", ".markdown")
    # What the bytes must sniff as: text (a table can look like CSV, a leading `[link]` like
    # JSON). A PNG named `.md` stays an image.
    sniffed_as = ("TEXT", "CSV", "JSON")

    def process(self, source: ProcessingSource) -> Result:
        lines = io.TextIOWrapper(source.progress_reader(), encoding="utf-8", errors="replace")
        found = Found()
        fence = None  # the fence that opened the code block we are in
        previous = ""  # the paragraph line a setext underline makes a heading
        continues = False  # the previous read stopped at MAX_LINE_CHARS, inside a line
        while line := lines.readline(MAX_LINE_CHARS):
            found.line_count += not continues
            continues = not line.endswith("\n")
            line = line.rstrip("\r\n").lstrip("\ufeff")
            if opened := FENCE.match(line):
                marker = opened.group(1)
                if fence is None:
                    fence = marker
                elif marker[0] == fence[0] and len(marker) >= len(fence):
                    fence = None
                previous = ""
                continue
            if fence is not None:
                continue  # code: no headings, links or prose words
            if (underline := SETEXT_UNDERLINE.match(line)) and previous.strip():
                found.heading(1 if underline.group(1)[0] == "=" else 2, previous)
                previous = ""
                continue
            if heading := ATX_HEADING.match(line):
                found.heading(len(heading.group(1)), heading.group(2) or "")
                found.words(heading.group(2) or "")
                previous = ""
                continue
            if reference := REFERENCE.match(line):
                found.link(reference.group(1), reference.group(2))
                previous = ""
                continue
            for link in INLINE_LINK.finditer(line):
                found.link(link.group(2), link.group(3), image=bool(link.group(1)))
            for link in AUTOLINK.finditer(line):
                found.link(link.group(1), link.group(1))
            found.words(AUTOLINK.sub(" ", INLINE_LINK.sub(r" \2 ", line)))
            previous = line
        source.report_progress(1.0)
        return Result(fields=found.fields())


class Found:
    """What the processor keeps: counts, and the first MAX_LISTED headings and links."""

    def __init__(self):
        self.line_count = self.word_count = self.heading_count = self.link_count = 0
        self.image_count = 0
        self.headings: list[dict] = []
        self.links: list[dict] = []

    def heading(self, level: int, text: str) -> None:
        self.heading_count += 1
        if len(self.headings) < MAX_LISTED:
            self.headings.append({"level": level, "text": text.strip()[:MAX_TEXT_CHARS]})

    def link(self, text: str, url: str, *, image: bool = False) -> None:
        if image:
            self.image_count += 1
            return
        self.link_count += 1
        if len(self.links) < MAX_LISTED:
            self.links.append({"text": text.strip()[:MAX_TEXT_CHARS], "url": url[:MAX_TEXT_CHARS]})

    def words(self, text: str) -> None:
        self.word_count += sum(1 for _ in WORD.finditer(text))

    def fields(self) -> dict:
        titles = [heading["text"] for heading in self.headings if heading["level"] == 1]
        return {
            "title": titles[0] if titles else None,
            "line_count": self.line_count,
            "word_count": self.word_count,
            "heading_count": self.heading_count,
            "headings": self.headings,
            "link_count": self.link_count,
            "links": self.links,
            "image_count": self.image_count,
        }

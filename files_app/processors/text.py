"""Plain text: encoding, line/word/character counts and a preview, in constant memory."""

from .base import ProcessingSource, Result
from .encoding import SAMPLE_BYTES, detect_encoding, iter_text_chunks

# Text is counted in pieces this size: splitting one into words makes an object per word
# (a 1 MiB piece of short words took ~50 MiB), so the piece, not the read, sets the peak.
TEXT_PIECE_BYTES = 64 * 1024


def process(source: ProcessingSource) -> Result:
    limits = source.limits
    source.stream.seek(0)
    encoding = detect_encoding(source.stream.read(SAMPLE_BYTES))
    lines = words = characters = 0
    preview: list[str] = []
    pending_word = False  # a word cut at the end of the previous chunk
    last_char = ""
    for text in iter_text_chunks(
        source.progress_reader(), encoding, min(source.chunk_size, TEXT_PIECE_BYTES)
    ):
        if characters == 0:
            text = text.lstrip("\ufeff")
        characters += len(text)
        lines += text.count("\n")
        chunk_words = text.split()
        words += len(chunk_words)
        if pending_word and chunk_words and not text[0].isspace():
            words -= 1  # the same word continues across the boundary
        pending_word = bool(text) and not text[-1].isspace()
        if len(preview) < limits.preview_lines:
            preview.extend(text.splitlines())
        last_char = text[-1:] or last_char
    if characters and last_char != "\n":
        lines += 1  # a last line without a newline is still a line
    source.report_progress(1.0)
    return Result(
        fields={
            "encoding": encoding,
            "line_count": lines,
            "word_count": words,
            "character_count": characters,
            "preview": "\n".join(preview[: limits.preview_lines])[: limits.preview_chars],
        }
    )

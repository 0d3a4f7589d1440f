"""Real sample files, made in the tests with the libraries that read them."""

import io
import wave
import zipfile

from PIL import Image
from pypdf import PdfWriter


def png(width=640, height=480, color=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((400, 400), 64).convert("RGB").save(buffer, "JPEG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


def csv_with_bad_rows() -> bytes:
    lines = ["id,name,price,active,since"]
    lines += [
        f"{i},item {i},{i}.5,{'true' if i % 2 else 'false'},2024-01-{i % 28 + 1:02d}"
        for i in range(1, 51)
    ]
    lines.insert(11, "oops,too,many,fields,here,really")  # physical line 12
    return ("\n".join(lines) + "\n").encode()


def pdf(title="Quarterly report", pages=2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title, "/Author": "Alice"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def zip_archive(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def wav(seconds=1, rate=8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x01" * rate * seconds)
    return buffer.getvalue()

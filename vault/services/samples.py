"""Sample content for the demo group: PDF pages with Chinese text, a PNG, a WAV
recording and a text file, generated in memory (never written to disk in clear)."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

from vault.policy import CERTIFICATES, Category

TEXT_CATEGORIES = {Category.NOTICE, Category.LETTER, Category.ADMINISTRATIVE}


def sample(category: Category, title: str, font_file: Path | None = None) -> tuple[bytes, str]:
    """(content, file name) for a demo document of ``category``."""
    if category is Category.CALL_RECORDING:
        return wav_tone(), "recording.wav"
    if category in CERTIFICATES:
        return png_card(title, font_file), "scan.png"
    if category in TEXT_CATEGORIES:
        body = f"{title}\n\n各位住户、租户：\n\n特此通知。\n\n华信物业客户服务部\n"
        return body.encode("utf-8"), "notice.txt"
    return pdf_pages(title), "document.pdf"


def pdf_pages(title: str, pages: int = 2) -> bytes:
    """A small PDF with Chinese text (reportlab's built-in CID font needs no font file)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True)
    width, height = A4
    for page in range(1, pages + 1):
        pdf.setFont("STSong-Light", 18)
        pdf.drawString(72, height - 96, title)
        pdf.setFont("STSong-Light", 12)
        lines = [
            f"第 {page} 页，共 {pages} 页",
            "本文件为华信物业集团演示资料，内容纯属虚构。",
            "依照公司保密制度管理：未经批准不得摘抄、复制。",
        ]
        for i, line in enumerate(lines):
            pdf.drawString(72, height - 140 - 22 * i, line)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def png_card(title: str, font_file: Path | None = None) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (800, 500), (250, 246, 235))
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 780, 480), outline=(160, 30, 30), width=6)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    if font_file is not None and font_file.is_file():
        font = ImageFont.truetype(str(font_file), 36)
    else:
        font = ImageFont.load_default()
    draw.text((60, 80), title, fill=(20, 20, 20), font=font)
    draw.text((60, 200), "统一社会信用代码 91440300XXXXXXXXXX", fill=(20, 20, 20), font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def wav_tone(seconds: float = 2.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(seconds * rate))
        )
        w.writeframes(frames)
    return buf.getvalue()


def signature_png(seed: int = 0) -> bytes:
    """A hand-drawn-looking signature on white (demo follow-up visits)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 160), "white")
    draw = ImageDraw.Draw(img)
    points = [(40 + i * 8, 90 + int(30 * math.sin((i + seed) / 3.0)) - (i % 7) * 2)
              for i in range(50)]
    draw.line(points, fill=(20, 20, 60), width=3, joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()

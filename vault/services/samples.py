"""Sample content for the demo group: PDF pages with Chinese text (multi-page
contracts), certificate scans with their numbers and holders, a scanned sign-off
sheet, a hotline call spoken in Chinese (espeak-ng, through a pipe) and text
files, all generated in memory (never written to disk in clear)."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path

from vault.policy import CERTIFICATES, Category

TEXT_CATEGORIES = {Category.NOTICE, Category.LETTER, Category.ADMINISTRATIVE}


CONTRACT_CATEGORIES = {Category.CONTRACT, Category.AGREEMENT}
#: The hotline call of the demo recording (a leak reported by a tenant, in Chinese).
HOTLINE_SCRIPT = ("您好，华信物业客服热线。我是B座的李女士，卫生间在漏水。"
                  "好的，师傅半小时内到。")
#: Certificate numbers and holders printed on the demo scans (fictitious).
CERTIFICATE_NUMBERS = {
    Category.BUSINESS_LICENCE: "91440300MA5DEMO01X",
    Category.ORG_CODE_CERTIFICATE: "MA5DEMO0-1",
    Category.TAX_REGISTRATION: "深税登字 440300MA5DEMO01X 号",
    Category.OTHER_CERTIFICATE: "物业服务资质 粤建物 2021-0188",
}


def sample(category: Category, title: str, font_file: Path | None = None,
           holder: str = "深圳华信物业有限公司") -> tuple[bytes, str]:
    """(content, file name) for a demo document of ``category``."""
    if category is Category.CALL_RECORDING:
        return speech_wav(HOTLINE_SCRIPT) or wav_tone(), "recording.wav"
    if category in CERTIFICATES:
        number = CERTIFICATE_NUMBERS.get(category, "")
        return png_card(title, font_file, number=number, holder=holder), "scan.png"
    if category in TEXT_CATEGORIES:
        body = f"{title}\n\n各位住户、租户：\n\n特此通知。\n\n华信物业客户服务部\n"
        return body.encode("utf-8"), "notice.txt"
    if category in CONTRACT_CATEGORIES:
        return contract_pdf(title), "contract.pdf"
    return pdf_pages(title), "document.pdf"


CLAUSES = (
    ("合同双方", "甲方：华信物业集团下属公司（简称“甲方”）；乙方：见首页所列（简称“乙方”）。"),
    ("服务范围", "乙方负责约定区域的保洁、秩序维护、设备设施维修养护及客户服务。"),
    ("服务期限", "自合同签订之日起三年，期满前六十日双方协商续约事宜。"),
    ("服务费用", "服务费按月结算，甲方于每月十日前支付上月费用，逾期按日万分之三计违约金。"),
    ("服务标准", "乙方应达到附件一所列服务标准，甲方每季度组织一次满意度测评。"),
    ("保密义务", "双方对在履行本合同过程中知悉的商业秘密负有保密义务，期限至该信息公开为止。"),
    ("违约责任", "任何一方违反本合同约定，应赔偿对方因此遭受的直接损失。"),
    ("争议解决", "因本合同引起的争议，双方协商解决；协商不成的，提交甲方所在地人民法院诉讼解决。"),
    ("其他", "本合同一式四份，甲乙双方各执两份，自双方签字盖章之日起生效。"),
)


def contract_pdf(title: str, pages: int = 4) -> bytes:
    """A multi-page contract: clauses over ``pages`` pages, signatures on the last."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True)
    width, height = A4
    per_page = -(-len(CLAUSES) // pages)
    for page in range(pages):
        y = height - 90
        if page == 0:
            pdf.setFont("STSong-Light", 20)
            pdf.drawCentredString(width / 2, y, title)
            y -= 40
        pdf.setFont("STSong-Light", 11)
        for n, (head, text) in enumerate(CLAUSES[page * per_page:(page + 1) * per_page],
                                         start=page * per_page + 1):
            pdf.setFont("STSong-Light", 13)
            pdf.drawString(72, y, f"第{'一二三四五六七八九十'[n - 1]}条  {head}")
            y -= 22
            pdf.setFont("STSong-Light", 11)
            for i in range(0, len(text), 38):
                pdf.drawString(90, y, text[i:i + 38])
                y -= 18
            y -= 12
        if page == pages - 1:
            pdf.drawString(72, 170, "甲方（盖章）：                    乙方（盖章）：")
            pdf.drawString(72, 140, "授权代表签字：                    授权代表签字：")
            pdf.drawString(72, 110, "日期：                            日期：")
        pdf.setFont("STSong-Light", 9)
        pdf.drawCentredString(width / 2, 40, f"第 {page + 1} 页，共 {pages} 页")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


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


def _font(font_file: Path | None, size: int) -> object:
    from PIL import ImageFont

    if font_file is not None and font_file.is_file():
        return ImageFont.truetype(str(font_file), size)
    return ImageFont.load_default()


def png_card(title: str, font_file: Path | None = None, *, number: str = "",
             holder: str = "") -> bytes:
    """A certificate scan: its title, number, holder and an issuing seal."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (800, 500), (250, 246, 235))
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, 780, 480), outline=(160, 30, 30), width=6)
    big, small = _font(font_file, 36), _font(font_file, 26)
    draw.text((60, 70), title, fill=(20, 20, 20), font=big)  # type: ignore[arg-type]
    draw.text((60, 170), f"编号：{number or '91440300XXXXXXXXXX'}", fill=(20, 20, 20),
              font=small)  # type: ignore[arg-type]
    if holder:
        draw.text((60, 220), f"持证单位：{holder}", fill=(20, 20, 20),
                  font=small)  # type: ignore[arg-type]
    draw.ellipse((570, 300, 730, 460), outline=(200, 30, 30), width=5)  # the issuer's seal
    draw.text((600, 365), "发证机关", fill=(200, 30, 30), font=small)  # type: ignore[arg-type]
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def sign_off_sheet_png(title: str, rows: list[tuple[str, str, str]],
                       font_file: Path | None = None) -> bytes:
    """A scanned sign-off sheet (签收单): the notice's title and one line per
    recipient (unit, tenant, date) with a handwritten-looking signature; greyish,
    slightly tilted, as a scanner gives it."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (1240, 1754), 246)  # A4 at 150 dpi
    draw = ImageDraw.Draw(img)
    big, small = _font(font_file, 44), _font(font_file, 30)
    draw.text((120, 120), "签  收  单", fill=20, font=big)  # type: ignore[arg-type]
    draw.text((120, 210), title, fill=30, font=small)  # type: ignore[arg-type]
    top, row_h = 300, 110
    cols = (120, 330, 700, 860, 1120)
    for i in range(len(rows) + 2):
        draw.line((cols[0], top + i * row_h, cols[-1], top + i * row_h), fill=60, width=3)
    for x in cols:
        draw.line((x, top, x, top + (len(rows) + 1) * row_h), fill=60, width=3)
    for x, head in zip(cols, ("单元", "租户", "签名", "日期"), strict=False):
        draw.text((x + 20, top + 35), head, fill=20, font=small)  # type: ignore[arg-type]
    for r, (unit, tenant, day) in enumerate(rows, start=1):
        y = top + r * row_h
        draw.text((cols[0] + 20, y + 35), unit, fill=30, font=small)  # type: ignore[arg-type]
        draw.text((cols[1] + 20, y + 35), tenant, fill=30, font=small)  # type: ignore[arg-type]
        points = [(cols[2] + 30 + k * 7, y + 60 + int(18 * math.sin((k + r * 5) / 2.5)))
                  for k in range(24)]
        draw.line(points, fill=25, width=4, joint="curve")
        draw.text((cols[3] + 10, y + 35), day, fill=30, font=small)  # type: ignore[arg-type]
    img = img.rotate(0.6, fillcolor=246, resample=Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def speech_wav(text: str, timeout: float = 20.0) -> bytes | None:
    """``text`` spoken in Mandarin by espeak-ng as WAV bytes, read from its standard
    output (nothing on disk); None when espeak-ng is not installed (`make run` then
    keeps the tone; `make test` installs it)."""
    program = shutil.which("espeak-ng")
    if program is None:
        return None
    done = subprocess.run([program, "-v", "cmn", "-s", "170", "--stdout", text],  # noqa: S603
                          capture_output=True, timeout=timeout, check=True)
    # Writing to a pipe, espeak-ng cannot go back to fill in the header's lengths:
    # read the samples that came and write them again with a true header.
    with wave.open(io.BytesIO(done.stdout)) as raw:
        params = raw.getparams()
        frames = raw.readframes(raw.getnframes())
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(params.nchannels)
        out.setsampwidth(params.sampwidth)
        out.setframerate(params.framerate)
        out.writeframes(frames)
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

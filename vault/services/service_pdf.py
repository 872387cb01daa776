"""PDFs of the customer-service area, drawn in memory with reportlab and the CJK
font: the monthly follow-up report (客户回访记录) with a bar chart of each rate
against its target, and outgoing letters on the letterhead of their template
(对外发文模版)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from vault.services.followups import ZH_KIND, Report
from vault.stamping import pdf_font

EN_KIND = {"complaint": "Complaints", "repair": "Repairs", "event": "Events",
           "move_in": "Move-ins", "emergency": "Emergencies", "handling": "Requests answered"}


def report_pdf(rep: Report, font_file: Path, lang: str = "zh") -> bytes:
    """One A4 page: the title, the table (due, done, rate, target) and a bar chart —
    a bar per type (its rate), a red tick at its target."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = pdf_font(font_file)
    zh = lang != "en"
    names = ZH_KIND if zh else EN_KIND
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"客户回访记录 {rep.company} {rep.month}" if zh
                 else f"Follow-up report {rep.company} {rep.month}")
    width, height = A4
    y = height - 60
    pdf.setFont(font, 18)
    pdf.drawString(50, y, f"客户回访记录 · {rep.company_name} · {rep.month}" if zh
                   else f"Follow-up report · {rep.company_name} · {rep.month}")
    y -= 36
    heads = (["类型", "应回访", "已完成", "回访率", "目标"] if zh
             else ["Type", "Due", "Done", "Rate", "Target"])
    cols = [50, 220, 290, 360, 440]
    pdf.setFont(font, 11)
    for x, head in zip(cols, heads, strict=True):
        pdf.drawString(x, y, head)
    pdf.line(50, y - 4, width - 50, y - 4)
    for ln in rep.lines:
        y -= 20
        cells = [names.get(ln.kind, ln.kind), str(ln.due), str(ln.done),
                 "—" if ln.rate is None else f"{ln.rate:.1f}%",
                 "—" if ln.target is None else f"{ln.target}%"]
        for x, cell in zip(cols, cells, strict=True):
            pdf.drawString(x, y, cell)
    # The chart: one horizontal bar per type, 0–100 %, the target as a red tick.
    y -= 50
    pdf.setFont(font, 12)
    pdf.drawString(50, y, "回访率与目标" if zh else "Rates against targets")
    left, bar_w = 160, width - 230
    y -= 10
    for ln in rep.lines:
        y -= 26
        pdf.setFont(font, 10)
        pdf.setFillColorRGB(0, 0, 0)
        pdf.drawString(50, y + 4, names.get(ln.kind, ln.kind))
        pdf.setStrokeColorRGB(0.75, 0.75, 0.75)
        pdf.rect(left, y, bar_w, 14, stroke=1, fill=0)
        if ln.rate is not None:
            if ln.met is False:
                pdf.setFillColorRGB(0.8, 0.2, 0.2)
            else:
                pdf.setFillColorRGB(0.18, 0.49, 0.2)
            pdf.rect(left, y, bar_w * min(ln.rate, 100.0) / 100.0, 14, stroke=0, fill=1)
            pdf.setFillColorRGB(0, 0, 0)
            pdf.drawString(left + bar_w + 6, y + 3, f"{ln.rate:.0f}%")
        if ln.target is not None:
            x = left + bar_w * ln.target / 100.0
            pdf.setStrokeColorRGB(0.8, 0, 0)
            pdf.setLineWidth(2)
            pdf.line(x, y - 3, x, y + 17)
            pdf.setLineWidth(1)
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont(font, 8)
    note = ("回访率：本月到期的首次回访中已完成的比例；诉求处理：本月受理的诉求中已关闭的比例。"
            if zh else "Rates: first visits made of those due in the month; requests "
            "answered: received in the month and closed.")
    pdf.drawString(50, 40, note)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


@dataclass(frozen=True)
class LetterFields:
    letterhead: str
    closing: str
    number: str
    addressee: str
    title: str
    body: str
    letter_on: date
    open_letter: bool = False


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of ``text`` no wider than ``width``: Chinese breaks between any two
    characters, a Latin word is kept whole where it fits."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for token in _tokens(para):
            if stringWidth(line + token, font, size) <= width:
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = token.lstrip()
            while stringWidth(line, font, size) > width:  # a token longer than a line
                cut = len(line)
                while cut > 1 and stringWidth(line[:cut], font, size) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


def _tokens(para: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in para:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def letter_pdf(fields: LetterFields, font_file: Path) -> bytes:
    """An A4 letter: the template's letterhead centred over a red rule, the number,
    the addressee, the subject, the body (wrapped, over as many pages as it takes),
    then the template's closing and the date at the right."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = pdf_font(font_file)
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"{fields.number} {fields.title}")
    width, height = A4
    left, right, bottom = 72, width - 72, 72
    y = height - 64
    pdf.setFillColorRGB(0.7, 0.05, 0.05)
    for i, line in enumerate(fields.letterhead.split("\n")):
        size = 20 if i == 0 else 10
        pdf.setFont(font, size)
        pdf.drawCentredString(width / 2, y, line)
        y -= size + 8
    pdf.setStrokeColorRGB(0.7, 0.05, 0.05)
    pdf.setLineWidth(1.5)
    pdf.line(left, y, right, y)
    pdf.setFillColorRGB(0, 0, 0)
    y -= 22
    pdf.setFont(font, 10)
    pdf.drawRightString(right, y, fields.number)
    y -= 34
    pdf.setFont(font, 16)
    pdf.drawCentredString(width / 2, y, ("公开信：" if fields.open_letter else "") + fields.title)
    y -= 34
    size, lead = 12, 20
    pdf.setFont(font, size)
    pdf.drawString(left, y, f"致：{fields.addressee}")
    y -= lead * 1.5

    def room(needed: float) -> float:
        if y - needed >= bottom:
            return y
        pdf.showPage()
        pdf.setFont(font, size)
        return height - 72

    # Each paragraph's first line indented by two characters, as Chinese letters are.
    body = "\n".join("\u3000\u3000" + p.strip() if p.strip() else ""
                     for p in fields.body.split("\n"))
    for line in _wrap(body, font, size, right - left):
        y = room(lead)
        pdf.drawString(left, y, line)
        y -= lead
    closing = [ln for ln in fields.closing.split("\n") if ln.strip()]
    y -= lead
    y = room(lead * (len(closing) + 1))
    d = fields.letter_on
    for line in [*closing, f"{d.year}年{d.month}月{d.day}日"]:
        pdf.drawRightString(right, y, line)
        y -= lead
    pdf.showPage()
    pdf.save()
    return buf.getvalue()

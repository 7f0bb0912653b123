"""Write docs/support/warranty-and-rma-terms.pdf for the `knowledge` dataset.

The knowledge base needs one PDF so that document loading is exercised on a
real PDF with a text layer. This script holds the document's text and a tiny
stdlib-only PDF writer (standard Helvetica fonts, WinAnsiEncoding,
uncompressed content streams, several pages). Output is byte-identical on
every run:

    python corpora/knowledge/make_pdf.py
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "docs" / "support" / "warranty-and-rma-terms.pdf"

TITLE = "Warranty and RMA terms"
DOC = [
    ("meta", "Norrvik Instruments Oy - Customer terms T-04, version 5. Effective 1 September 2025. "
             "Owner: Tomas Berg, Head of Support. These terms form part of every hardware sales contract "
             "and are published in the help centre."),
    ("h", "1. Warranty periods"),
    ("p", "Norrvik warrants that its hardware is free from defects in materials and workmanship for the "
          "following periods, counted from the date of delivery to the customer (or, for devices bought "
          "through a partner, from the partner's delivery to the end customer, at most six months after "
          "Norrvik's delivery to the partner):"),
    ("li", "Tellus S3 soil probe: 24 months."),
    ("li", "Tellus S3 Pro soil probe: 36 months, except the pH reference electrode, which is a consumable "
           "covered for 6 months."),
    ("li", "Canopy C2 climate node: 24 months; the Canopy battery pack: 12 months."),
    ("li", "Harbor G1 gateway: 36 months; the external power supply: 24 months."),
    ("li", "Accessories (pole mounts, antennas, supply kits): 12 months."),
    ("li", "Replacement devices supplied under warranty: the remainder of the original warranty or 6 months, "
           "whichever is longer."),
    ("p", "Lithium AA cells supplied with Tellus probes are not covered by the warranty."),
    ("h", "2. What the warranty does not cover"),
    ("li", "Damage from installation or use contrary to the installation guide, for example probes pulled out "
           "by twisting the head, or gateways mounted without the supplied power supply."),
    ("li", "Damage from lightning, flooding above the IP rating, fire, animals or chemicals not approved for "
           "greenhouse use. Sulphur burners are approved; chlorine-based disinfection at concentrations above "
           "200 ppm is not."),
    ("li", "Devices opened beyond the user-serviceable battery and electrode compartments, or with a broken "
           "tamper seal."),
    ("li", "Normal wear of rods, cables and the enclosure's surface, and cosmetic defects that do not affect "
           "function."),
    ("li", "Readings that drift because calibration procedure QP-11 was not followed."),
    ("h", "3. How to get an RMA number"),
    ("p", "Devices are never accepted without an RMA (return merchandise authorisation) number. Before an RMA "
          "is issued, support troubleshoots remotely following knowledge article KB-214, because most devices "
          "reported as faulty turn out to have radio or configuration problems. To request an RMA, the customer "
          "opens a support ticket with the serial numbers, a description of the fault and, for physical damage, "
          "photos. Partners request RMAs for their customers in the partner portal."),
    ("p", "RMA numbers have the format RMA-YY-NNNNN, for example RMA-25-01432, where YY is the year of issue. "
          "An RMA number is valid for 21 days. Devices that arrive after the RMA has expired are returned to the "
          "sender at the sender's cost, or recycled after 60 days if the sender does not respond."),
    ("h", "4. Shipping the device"),
    ("p", "Send the device to: Norrvik Instruments OU, RMA desk, Peterburi tee 71, 11415 Tallinn, Estonia. "
          "Write the RMA number clearly on the outside of the box. Remove the batteries from Tellus probes "
          "before shipping; lithium cells must not be shipped loose in the same box. Canopy C2 nodes may be "
          "shipped with the battery pack installed if it is charged to less than 30 %."),
    ("p", "Within the warranty period, Norrvik pays the shipping both ways inside the EU: support emails a "
          "prepaid return label together with the RMA number. Outside the EU, the customer pays the shipment to "
          "Tallinn and Norrvik pays the return. Out-of-warranty returns are shipped at the customer's cost."),
    ("h", "5. What happens at the RMA desk"),
    ("p", "The Tallinn team tests every returned device within 5 working days of arrival, using the same "
          "final-test station as in production. The result is one of three outcomes:"),
    ("li", "Fault confirmed and covered by warranty: the device is repaired or replaced, at Norrvik's choice, "
           "and shipped back within 10 working days of arrival."),
    ("li", "No fault found (NFF): the device is returned to the customer. Inside the warranty, the first NFF "
           "return of a customer in a calendar year is free; from the second NFF return in the same year, a "
           "handling fee of EUR 35 per device is charged."),
    ("li", "Fault not covered by warranty: the customer receives a repair quote. The assessment fee of EUR 35 "
           "is deducted from the repair price if the quote is accepted within 30 days; otherwise the device is "
           "returned unrepaired or recycled, as the customer chooses."),
    ("h", "6. Advance replacement"),
    ("p", "Customers on the Estate plan receive an advance replacement: Norrvik ships a replacement device "
          "within one working day of issuing the RMA, before the faulty device is returned. The faulty device "
          "must then be returned within 21 days; if it is not, the replacement is invoiced at list price. "
          "Harvest customers can buy advance replacement for gateways only, at EUR 90 per case."),
    ("h", "7. Data on returned devices"),
    ("p", "Sensors hold no customer readings beyond a buffer of at most 48 hours. Gateways may hold up to 72 "
          "hours of buffered readings; the RMA desk erases every returned gateway with a factory reset before "
          "testing. Devices are unlinked from the customer's Rootline organisation when the RMA is issued, so "
          "the replacement can be paired immediately."),
    ("h", "8. Dead on arrival"),
    ("p", "A device that does not work when first installed and is reported within 14 days of delivery is "
          "treated as dead on arrival (DOA). DOA devices are replaced immediately with a new device without "
          "waiting for the RMA desk test, and the customer's shipping costs are always covered, inside or "
          "outside the EU."),
    ("h", "9. Recycling"),
    ("p", "Norrvik takes back any of its devices at end of life for recycling, free of charge, under the WEEE "
          "directive. Request a recycling return in a support ticket; no RMA number is needed, but write "
          "RECYCLING on the box. In 2024 the Tallinn team recovered 2.1 tonnes of electronics and 640 kg of "
          "stainless steel rods for recycling."),
    ("h", "10. Statutory rights"),
    ("p", "These terms do not limit the customer's statutory rights under the consumer or commercial law of "
          "the customer's country. Where the law gives longer periods or stronger remedies, the law applies. "
          "Questions about these terms: support@rootline.example."),
]

PAGE_W, PAGE_H, MARGIN = 595, 842, 60
STYLES = {  # font, size, leading, space before
    "title": ("F2", 18, 24, 0),
    "meta": ("F3", 9, 12, 4),
    "h": ("F2", 12, 16, 10),
    "p": ("F1", 10, 13, 4),
    "li": ("F1", 10, 13, 2),
}
# Advance widths (1/1000 em) of characters 32..126 from the standard Adobe AFM metrics.
HELVETICA = [
    278, 278, 355, 556, 556, 889, 667, 222, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778,
    722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278,
    278, 278, 469, 556, 222, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
]
HELVETICA_BOLD = [
    278, 333, 474, 556, 556, 889, 722, 278, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778,
    722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333,
    278, 333, 584, 556, 278, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
]
WIDTHS = {"F1": HELVETICA, "F2": HELVETICA_BOLD, "F3": HELVETICA}  # oblique shares regular metrics


def text_width(text: str, font: str, size: int) -> float:
    table = WIDTHS[font]
    return sum(table[ord(c) - 32] if 32 <= ord(c) <= 126 else 556 for c in text) * size / 1000


def wrap(text: str, font: str, size: int, width: float) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and text_width(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return lines + [current]


def escape(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def layout() -> list[list[tuple[str, int, int, int, str]]]:
    """Return pages as lists of (font, size, x, y, text) lines."""
    pages: list[list[tuple[str, int, int, int, str]]] = [[]]
    y = PAGE_H - MARGIN
    for style, text in [("title", TITLE)] + DOC:
        font, size, leading, before = STYLES[style]
        indent = 14 if style == "li" else 0
        lines = wrap(text, font, size, PAGE_W - 2 * MARGIN - indent - 10)
        if style == "li":
            lines = ["- " + lines[0]] + ["  " + line for line in lines[1:]]
        y -= before
        if style == "h" and y - leading * 3 < MARGIN:
            pages.append([])
            y = PAGE_H - MARGIN
        for line in lines:
            if y - leading < MARGIN:
                pages.append([])
                y = PAGE_H - MARGIN
            y -= leading
            pages[-1].append((font, size, MARGIN + indent, y, line))
    return pages


def build() -> bytes:
    pages = layout()
    objects: list[bytes] = []  # object n is objects[n - 1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # pages tree, filled in below
    fonts = {"F1": "Helvetica", "F2": "Helvetica-Bold", "F3": "Helvetica-Oblique"}
    font_ids = {}
    for name, base in fonts.items():
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>".encode())
        font_ids[name] = len(objects)
    resources = " ".join(f"/{n} {i} 0 R" for n, i in font_ids.items())
    kids = []
    for number, lines in enumerate(pages, 1):
        body = b"".join(
            b"BT /%s %d Tf %d %d Td (%s) Tj ET\n" % (font.encode(), size, x, y, escape(text))
            for font, size, x, y, text in lines
        )
        footer = f"Norrvik Instruments - Warranty and RMA terms T-04 v5 - page {number} of {len(pages)}"
        body += b"BT /F1 8 Tf %d %d Td (%s) Tj ET\n" % (MARGIN, 30, escape(footer))
        objects.append(b"<< /Length %d >>\nstream\n" % len(body) + body + b"endstream")
        content_id = len(objects)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << {resources} >> >> /Contents {content_id} 0 R >>".encode()
        )
        kids.append(len(objects))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    objects.append(b"<< /Title (Warranty and RMA terms) /Author (Norrvik Instruments) /Producer (make_pdf.py) >>")
    info_id = len(objects)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, info_id, xref)
    return bytes(out)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(build())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

"""Document loading and chunking: a zoo of real files, good and bad."""

from __future__ import annotations

import random

import pytest

from sandbox.chunking import chunk_document, chunk_id
from sandbox.corpus import assemble, decode_text, load_documents, markdown_blocks
from fakes import FakeEmbedder


def _pdf(path, text=None):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if text is None:
        pdf.rect(10, 10, 80, 40)  # drawing only: no text layer
    else:
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))


def _docx(path):
    import docx

    document = docx.Document()
    document.add_heading("Travel policy", level=1)
    document.add_paragraph("Book trains for trips under five hours.")
    document.add_heading("Meals", level=2)
    document.add_paragraph("The daily meal allowance is 45 euros.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Hotel cap"
    table.rows[0].cells[1].text = "150 EUR"
    document.save(str(path))


@pytest.fixture
def zoo(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub dir").mkdir(parents=True)
    (docs / "guide.md").write_text("# Guide\n\nIntro text.\n\n## Install\n\nRun the installer.\n", encoding="utf-8")
    (docs / "plain.txt").write_text("First paragraph.\n\nSecond paragraph.", encoding="utf-8")
    (docs / "latin1.txt").write_bytes("Crème brûlée à la française, très délicieux et sucré.".encode("latin-1"))
    (docs / "binary.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (docs / "fake.txt").write_bytes(b"\x00\x01\x02\xff\xfe" * 100)  # binary disguised as text
    (docs / "empty.md").write_bytes(b"")
    (docs / "huge.txt").write_text("word " * 300_000, encoding="utf-8")  # 1.5 MB > the 1 MB limit below
    (docs / "page.html").write_text(
        "<html><head><title>Status page</title><style>body{color:red}</style>"
        "<script>var secret = 'do not index';</script></head><body><h1>Status</h1>"
        "<div>All systems <b>operational</b>.<p>Next maintenance on Sunday.</p></div>"
        "<noscript>enable js</noscript></body></html>",
        encoding="utf-8",
    )
    _pdf(docs / "scan.pdf")
    _pdf(docs / "report.pdf", "Quarterly report. Revenue grew by twelve percent.")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    _docx(docs / "travel.docx")
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip archive")
    (docs / "sub dir" / "Ünïcödé notes 📄.md").write_text("# Notes\n\nUnicode file names work.", encoding="utf-8")
    (docs / ".hidden.md").write_text("# Hidden\n\nnot indexed", encoding="utf-8")
    return docs


def test_zoo_loads_good_files_and_skips_bad_ones_with_reasons(zoo):
    docs, skipped = load_documents(zoo, max_bytes=1_000_000)
    by_source = {d.source: d for d in docs}
    reasons = {s.source: s.reason for s in skipped}

    assert set(by_source) == {
        "guide.md", "plain.txt", "latin1.txt", "page.html", "report.pdf", "travel.docx", "sub dir/Ünïcödé notes 📄.md",
    }
    assert set(reasons) == {"binary.bin", "fake.txt", "empty.md", "huge.txt", "scan.pdf", "broken.pdf", "broken.docx"}
    for source, reason in reasons.items():
        assert reason.startswith(source), "every reason names its file"
    assert "empty" in reasons["empty.md"]
    assert "binary" in reasons["binary.bin"]
    assert "limit" in reasons["huge.txt"] and "max_file_mb" in reasons["huge.txt"]
    assert "text layer" in reasons["scan.pdf"]
    assert "broken PDF" in reasons["broken.pdf"]
    assert "broken DOCX" in reasons["broken.docx"]

    assert "Crème brûlée" in by_source["latin1.txt"].text
    html = by_source["page.html"]
    assert html.title == "Status page"
    assert "All systems operational." in html.text and "Next maintenance on Sunday." in html.text
    assert "secret" not in html.text and "color" not in html.text and "enable js" not in html.text
    assert [(b.level, b.text) for b in html.blocks][0] == (1, "Status")
    assert "twelve percent" in by_source["report.pdf"].text
    docx = by_source["travel.docx"]
    assert [(b.level, b.text) for b in docx.blocks[:4]] == [
        (1, "Travel policy"), (0, "Book trains for trips under five hours."), (2, "Meals"), (0, "The daily meal allowance is 45 euros."),
    ]
    assert "Hotel cap | 150 EUR" in docx.text
    assert by_source["sub dir/Ünïcödé notes 📄.md"].title == "Notes"


def test_block_offsets_are_exact_spans(zoo):
    docs, _ = load_documents(zoo, max_bytes=10_000_000)
    for doc in docs:
        for block in doc.blocks:
            assert doc.text[block.start : block.end] == block.text


def test_decode_text_detects_legacy_encodings():
    assert decode_text("Überprüfung der Größe".encode("cp1252")) == "Überprüfung der Größe"
    assert decode_text("Привет, как дела? Это проверка кодировки.".encode("cp1251")) == "Привет, как дела? Это проверка кодировки."
    assert decode_text("\ufeffBOM text".encode("utf-8")) == "BOM text"


def test_markdown_structure():
    blocks = markdown_blocks("Title\n=====\n\nIntro.\n\n## A\n\n```\ncode\n\n# not a heading\n```\n\nSub\n---\ntext")
    assert [(b.level, b.text) for b in blocks] == [
        (1, "Title"), (0, "Intro."), (2, "A"), (0, "```\ncode\n\n# not a heading\n```"), (2, "Sub"), (0, "text"),
    ]


def _long_markdown(seed: int = 7) -> str:
    rng = random.Random(seed)
    words = "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega".split()

    def sentence():
        return " ".join(rng.choice(words) for _ in range(rng.randint(5, 18))).capitalize() + "."

    def paragraph(n):
        return " ".join(sentence() for _ in range(n))

    return (
        "# Handbook\n\n" + paragraph(3) + "\n\n## Setup\n\n" + "\n\n".join(paragraph(rng.randint(1, 8)) for _ in range(8))
        + "\n\n## Empty\n\n### Deep\n\n" + paragraph(40) + "\n\n## Wall\n\n" + " ".join(rng.choice(words) for _ in range(900))
    )


def test_chunks_respect_budget_structure_and_offsets():
    fake = FakeEmbedder()
    doc = assemble("hb.md", markdown_blocks(_long_markdown()), "", "sha")
    chunks = chunk_document(doc, "h" * 16, fake.count_tokens, chunk_tokens=60, overlap=15, model_max_tokens=256)
    assert len(chunks) > 10
    for i, chunk in enumerate(chunks):
        assert chunk.ordinal == i and chunk.id == chunk_id("hb.md", "h" * 16, i)
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert fake.count_tokens([chunk.text])[0] <= 60
        assert chunk.title == "Handbook"
    headings = {c.heading for c in chunks}
    assert {"Handbook", "Handbook > Setup", "Handbook > Empty > Deep", "Handbook > Wall"} <= headings
    # a heading-only section is folded into the next one, never a chunk of its own
    assert all(c.text not in ("Empty", "Setup") for c in chunks)
    # chunks never cross a section boundary
    for chunk in chunks:
        assert not ("Setup" in chunk.text and "Deep" in chunk.text)
    # consecutive chunks of one section overlap
    deep = [c for c in chunks if c.heading.endswith("Deep")]
    assert len(deep) >= 3 and all(b.start < a.end for a, b in zip(deep, deep[1:]))
    # the unpunctuated wall of words is still cut to fit
    assert len([c for c in chunks if c.heading.endswith("Wall")]) >= 900 // 60


def test_chunking_is_deterministic():
    fake = FakeEmbedder()
    doc = assemble("hb.md", markdown_blocks(_long_markdown(3)), "", "sha")
    first = chunk_document(doc, "x" * 16, fake.count_tokens, 80, 20)
    second = chunk_document(doc, "x" * 16, fake.count_tokens, 80, 20)
    assert [c.model_dump() for c in first] == [c.model_dump() for c in second]


def test_fake_embedder_is_deterministic_and_similarity_aware():
    a, b = FakeEmbedder(dim=64), FakeEmbedder(dim=64)
    texts = ["the refund policy for annual plans", "refund policy of annual plans", "kernel panic on boot"]
    va, vb = a.encode(texts), b.encode(texts)
    assert va.dtype.name == "float32" and va.shape == (3, 64)
    assert (va == vb).all()
    assert abs(float((va[0] ** 2).sum()) - 1.0) < 1e-5
    assert va[0] @ va[1] > 0.6 > va[0] @ va[2]

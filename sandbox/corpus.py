"""Load a folder of documents (Markdown, text, HTML, PDF, DOCX) into structured text.

Every loader turns a file into a list of ``Block``s (a heading or a paragraph); the
document's ``text`` is those blocks joined by blank lines, and each block knows its
character span in it, so chunks (``sandbox.chunking``) can cite exact offsets.
A file that cannot be read is skipped with a reason naming it; it never stops the rest.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from pydantic import BaseModel, Field

from sandbox.config import LimitsConfig

MARKDOWN = {".md", ".markdown", ".mdx"}
TEXT = {".txt", ".text", ".rst", ".log", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml", ".toml", ".ini"}
HTML = {".html", ".htm", ".xhtml"}
T = TypeVar("T")


class Block(BaseModel):
    text: str
    level: int = Field(0, description="heading level 1-6, or 0 for body text")
    start: int = 0
    end: int = 0


class Document(BaseModel):
    source: str = Field(description="path relative to the dataset's docs/ folder, with / separators")
    title: str
    text: str
    blocks: list[Block]
    sha256: str = Field(description="hash of the file's bytes")


class Skipped(BaseModel):
    source: str
    reason: str


class UnreadableFile(Exception):
    """A loader could not get text out of a file; the message is the reason shown to the user."""


# ---------------------------------------------------------------- decoding text

_PREFERRED_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")


def decode_text(data: bytes) -> str:
    """UTF-8 if valid, else the encoding charset-normalizer detects; binary data is refused."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile("binary file, not text (supported: Markdown, plain text, HTML, PDF, DOCX)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise UnreadableFile("not valid UTF-8 and no text encoding could be detected (binary file?)")
    best = matches[0]
    # Short texts fit several single-byte code pages equally well; Windows-1252 is by far
    # the most common legacy encoding of the tied ones, so it wins ties.
    tied = [m for m in matches if m.chaos <= best.chaos and m.coherence >= best.coherence - 0.01]
    for preferred in _PREFERRED_ENCODINGS:
        for match in tied:
            if match.encoding == preferred:
                return str(match)
    return str(best)


# ---------------------------------------------------------------- per-format loaders

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_blocks(text: str) -> list[Block]:
    """Headings (ATX and setext) and paragraphs; fenced code stays one block."""
    blocks: list[Block] = []
    para: list[str] = []
    in_fence = False

    def flush() -> None:
        if para and "".join(para).strip():
            blocks.append(Block(text="\n".join(para).strip("\n")))
        para.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            para.append(line)
            continue
        if in_fence:
            para.append(line)
            continue
        heading = _ATX.match(line)
        if heading:
            flush()
            blocks.append(Block(text=heading.group(2), level=len(heading.group(1))))
        elif re.match(r"^(=+|-+)\s*$", line) and len(para) == 1 and para[0].strip():
            title = para.pop().strip()  # setext: the previous single line is the heading
            flush()
            blocks.append(Block(text=title, level=1 if line.lstrip().startswith("=") else 2))
        elif not line.strip():
            flush()
        else:
            para.append(line.rstrip())
    flush()
    return blocks


def text_blocks(text: str) -> list[Block]:
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [Block(text=p.strip("\n")) for p in paragraphs if p.strip()]


_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Elements that start a new block of text; inline ones (a, b, span...) continue the current one.
_HTML_BLOCKS = _HEADINGS | {
    "p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption", "caption", "div", "section",
    "article", "main", "header", "footer", "aside", "nav", "ul", "ol", "dl", "table", "tr", "form", "body", "html",
}
_INVISIBLE = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object", "canvas"]


def html_blocks(data: bytes) -> tuple[list[Block], str]:
    """Visible text only: scripts, styles and other invisible elements are dropped."""
    from bs4 import BeautifulSoup, NavigableString
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    soup = BeautifulSoup(decode_text(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_INVISIBLE):
        tag.decompose()
    for table in reversed(soup.find_all("table")):  # innermost first; a table becomes one Markdown block
        rows = [[cell.get_text(" ", strip=True) for cell in tr.find_all(["th", "td"], recursive=False)]
                for tr in table.find_all("tr")]
        block = soup.new_tag("pre")
        block.string = markdown_table(rows)
        table.replace_with(block)
    groups: list[tuple[object, list[str]]] = []  # (enclosing block element, its strings in order)
    for string in soup.find_all(string=True):
        if not isinstance(string, NavigableString) or isinstance(string, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        owner = string.find_parent(list(_HTML_BLOCKS))
        if groups and groups[-1][0] is owner:
            groups[-1][1].append(str(string))
        else:
            groups.append((owner, [str(string)]))
    blocks: list[Block] = []
    for owner, strings in groups:
        name = getattr(owner, "name", "")
        raw = "".join(strings)
        text = raw.strip("\n") if name == "pre" else re.sub(r"\s+", " ", raw).strip()
        if text.strip():
            blocks.append(Block(text=text, level=int(name[1]) if name in _HEADINGS else 0))
    return blocks, title


def pdf_blocks(data: bytes, limits: LimitsConfig | None = None) -> list[Block]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    limits = limits or LimitsConfig()
    max_chars = int(limits.doc_uncompressed_mb * 1_000_000)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("encrypted PDF; save an unencrypted copy")
        if len(reader.pages) > limits.doc_pages:
            raise UnreadableFile(f"{len(reader.pages):,} pages, over the {limits.doc_pages:,} page limit "
                                 "(split the file, or raise [limits] doc_pages)")
        pages, chars = [], 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            if chars > max_chars:
                raise UnreadableFile(f"over {limits.doc_uncompressed_mb:g} MB of text (split the file, or raise "
                                     "[limits] doc_uncompressed_mb)")
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableFile(f"broken PDF ({exc})") from exc
    blocks = [b for page in pages for b in text_blocks(page)]
    if not blocks:
        raise UnreadableFile("PDF has no text layer (scanned image?); run OCR on it first")
    return blocks


def docx_blocks(data: bytes, limits: LimitsConfig | None = None) -> list[Block]:
    import io
    import zipfile

    import docx
    from docx.opc.exceptions import OpcError
    from docx.oxml.ns import qn

    limits = limits or LimitsConfig()
    try:
        _check_docx_size(zipfile.ZipFile(io.BytesIO(data)), limits)
        document = docx.Document(io.BytesIO(data))
    except (OpcError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableFile(f"broken DOCX ({exc})") from exc
    body = document.element.body
    count = sum(1 for _ in body.iter(qn("w:p"), qn("w:tr")))
    if count > limits.doc_paragraphs:
        raise UnreadableFile(f"{count:,} paragraphs and table rows, over the {limits.doc_paragraphs:,} limit "
                             "(split the file, or raise [limits] doc_paragraphs)")
    blocks = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        match = re.match(r"Heading (\d)", style)
        level = int(match.group(1)) if match else (1 if style == "Title" else 0)
        blocks.append(Block(text=text, level=min(level, 6)))
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                blocks.append(Block(text=" | ".join(dict.fromkeys(cells))))
    return blocks


def _check_docx_size(archive, limits: LimitsConfig) -> None:
    """A DOCX is a zip: a few KB can unpack to gigabytes of XML. The sizes in its directory bound what the
    parser reads (zipfile stops at the declared size), so they are checked before anything is unpacked."""
    xml = sum(i.file_size for i in archive.infolist() if i.filename.lower().endswith((".xml", ".rels")))
    if xml > limits.doc_uncompressed_mb * 1_000_000:
        raise UnreadableFile(f"unpacks to {xml / 1e6:,.1f} MB of XML, over the {limits.doc_uncompressed_mb:g} MB limit "
                             "(a zip bomb, or split the file; [limits] doc_uncompressed_mb)")


def _load_blocks(path: Path, data: bytes, limits: LimitsConfig | None = None) -> tuple[list[Block], str]:
    suffix = path.suffix.lower()
    if suffix in MARKDOWN:
        return markdown_blocks(decode_text(data)), ""
    if suffix in HTML:
        return html_blocks(data)
    if suffix == ".pdf":
        return pdf_blocks(data, limits), ""
    if suffix == ".docx":
        return docx_blocks(data, limits), ""
    return text_blocks(decode_text(data)), ""  # .txt and anything unknown that decodes as text


# ---------------------------------------------------------------- the folder


def assemble(source: str, blocks: list[Block], title: str, sha256: str) -> Document:
    """Join blocks into the document text, recording each block's character span."""
    parts, pos = [], 0
    for block in blocks:
        block.start, block.end = pos, pos + len(block.text)
        parts.append(block.text)
        pos = block.end + 2
    if not title:
        heading = next((b.text for b in blocks if b.level == 1), "")
        title = heading or Path(source).stem.replace("_", " ").replace("-", " ")
    return Document(source=source, title=title, text="\n\n".join(parts), blocks=blocks, sha256=sha256)


def read_source(path: Path, max_bytes: int) -> bytes:
    """A file's bytes, or UnreadableFile when it is empty or over the size limit."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile("empty file")
    if size > max_bytes:
        raise UnreadableFile(
            f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit (raise [index] max_file_mb to include it)"
        )
    return path.read_bytes()


def parse_document(path: Path, source: str, data: bytes, limits: LimitsConfig | None = None) -> Document:
    """Bytes → a Document (the file name only picks the format), or UnreadableFile."""
    blocks, title = _load_blocks(path, data, limits)
    if not blocks:
        raise UnreadableFile("no text found")
    return assemble(source, blocks, title, hashlib.sha256(data).hexdigest())


def load_document(path: Path, source: str, max_bytes: int) -> Document:
    return parse_document(path, source, read_source(path, max_bytes))


def guarded(source: str, step: Callable[[], T], on_skip: Callable[[Skipped], None]) -> T | None:
    """Run one file's step; a failure becomes a Skipped entry naming the file, never a crash."""
    try:
        return step()
    except UnreadableFile as exc:
        on_skip(Skipped(source=source, reason=f"{source}: {exc}"))
    except (OSError, UnicodeError) as exc:
        on_skip(Skipped(source=source, reason=f"{source}: could not read ({exc})"))
    except Exception as exc:  # noqa: BLE001 — PDF/DOCX/HTML parsers raise arbitrary types on malformed files
        on_skip(Skipped(source=source, reason=f"{source}: could not parse ({type(exc).__name__}: {exc})"))
    return None


def list_files(docs_dir: Path) -> list[Path]:
    """Every regular file under docs/, hidden files and folders excluded, in a stable order."""
    files = []
    for path in docs_dir.rglob("*"):
        rel = path.relative_to(docs_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(docs_dir).as_posix())


def iter_documents(docs_dir: Path, max_bytes: int, on_skip: Callable[[Skipped], None]) -> Iterator[Document]:
    for path in list_files(docs_dir):
        source = path.relative_to(docs_dir).as_posix()
        doc = guarded(source, lambda: load_document(path, source, max_bytes), on_skip)
        if doc is not None:
            yield doc


def load_documents(docs_dir: Path, max_bytes: int = 20_000_000) -> tuple[list[Document], list[Skipped]]:
    skipped: list[Skipped] = []
    docs = list(iter_documents(docs_dir, max_bytes, skipped.append))
    return docs, skipped

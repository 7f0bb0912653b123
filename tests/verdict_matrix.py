"""The verdict matrix: small synthetic datasets that vary one data signal at a time.

Each cell changes one signal of a plain base dataset (free-text replies in everyday words, no
documents) and carries the verdict the decision framework (DESIGN.md) expects for it:

- knowledge need 0–80% of the questions, with and without documents → ``rag`` at 30%+ with
  documents ("do not fine-tune to add knowledge"), else ``few-shot``; with no examples at all, any
  measurable document need → ``rag``;
- examples 0/10/40/80/300/600 × strict JSON / labelled report lines / free text → a strict format
  is ``fine-tuned`` from 50 examples, ``few-shot`` also ``fine-tuned`` below ("50–100 pairs at
  least"), free text stays ``few-shot`` ("do not fine-tune for simple instruction following");
- jargon share 0–40% → ``fine-tuned`` at 12%+ ("fine-tune for domain-specific language").

Three unseen datasets under ``tests/data/unseen/`` (written for this, used nowhere else) add
realistic shapes: documents + questions only, examples only, both.

Run the table: ``PYTHONPATH=. python -m tests.verdict_matrix`` (prints the confusion tables in Markdown).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import PIPELINES
from sandbox.advisor import Advice, decide, estimate_cost
from sandbox.config import load_workspace
from sandbox.signals import compute_signals

COMMON = ("please tell me when my order will arrive", "can you help me change the delivery address",
          "I would like to know the price of the new box", "the parcel came today but one part is missing",
          "how long does it take to get a refund", "my account does not show the last payment",
          "is there a way to return a gift without the receipt", "the door of the small cabinet will not close")
REPLIES = ("Thank you for the message, we will check it and write back soon",
           "We are sorry about the trouble and have sent a new one today",
           "You can do that from your account page at any time",
           "Our team will call you about this later this week")
UNSEEN = Path(__file__).resolve().parent / "data" / "unseen"
EXPECTED = {  # unseen dataset: (recommendation, also)
    "seedbank": ("rag", None),  # documents + questions, no examples
    "hives": ("fine-tuned", None),  # examples only (strict JSON), no documents
    "ferry": ("rag", "fine-tuned"),  # documents + examples: facts from the docs, in a fixed JSON shape
}
SYLLABLES = ("vex", "zor", "quil", "thra", "bek", "nul", "drav", "osk", "yim", "plo")


def jargon_word(i: int) -> str:
    """An invented word (Zipf frequency 0): the stand-in for domain jargon."""
    return SYLLABLES[i % 10] + SYLLABLES[(i // 10) % 10] + SYLLABLES[(i // 100) % 10]


def sprinkle(text: str, share: float, seed: int) -> str:
    """Replace about ``share`` of the words with jargon, spread evenly (line breaks kept)."""
    debt, j, lines = (seed * 0.618) % 1, 0, []  # a different phase per text keeps the overall share
    for line in text.split("\n"):
        out = []
        for word in line.split(" "):
            debt, j = debt + share, j + 1
            if debt >= 1:
                debt -= 1
                word = jargon_word(seed * 7 + j)
            out.append(word)
        lines.append(" ".join(out))
    return "\n".join(lines)


def output(fmt: str, i: int) -> str:
    reply = REPLIES[i % len(REPLIES)]
    topic, priority = ("delivery", "refund", "account", "return")[i % 4], ("low", "normal", "high")[i % 3]
    if fmt == "json":
        return json.dumps({"customer": f"C{1000 + i}", "topic": topic, "priority": priority,
                           "refund": i % 2 == 0, "reply": reply})
    if fmt == "labelled":
        return f"Topic: {topic}\nPriority: {priority}\nCustomer: C{1000 + i}\nReply: {reply}"
    return f"{reply}, and thank you for asking number {i}."


# documents and questions for the knowledge axis: a fact (invented place, number) lives only in the docs
def fact(i: int) -> tuple[str, str]:
    return jargon_word(500 + i).capitalize(), str(3 + i % 9)


def docs_text(n: int) -> str:
    return "\n".join(f"Order line {i} ships from the {fact(i)[0]} depot and takes {fact(i)[1]} days." for i in range(n))


def question(i: int, needs_docs: bool) -> dict:
    if needs_docs:
        place, days = fact(i)
        return {"id": f"q{i}", "question": f"Where does order line {i} ship from?",
                "reference": f"From the {place} depot, in {days} days."}
    return {"id": f"q{i}", "question": f"Can I change the colour of order line {i}?",
            "reference": f"Yes, you can change the colour of order line {i}."}


@dataclass
class Cell:
    axis: str
    value: str
    expected: str
    also: str | None = None
    n_examples: int = 20
    fmt: str = "free"
    jargon: float = 0.0
    knowledge: float = 0.0
    n_questions: int = 10
    docs: bool = False
    references: bool = True
    target: dict[str, float] = field(default_factory=dict)  # signal -> the value the cell aims for

    @property
    def name(self) -> str:
        return f"{self.axis}-{self.value}".replace("%", "pct").replace(" ", "-").replace("/", "-")


def cells() -> list[Cell]:
    out = []
    for pct in (0, 10, 20, 40, 60, 80):
        for docs in (True, False):
            want = "rag" if docs and pct >= 30 else "few-shot"
            out.append(Cell("knowledge", f"{pct}% {'docs' if docs else 'no-docs'}", want, knowledge=pct / 100,
                            docs=docs, target={"knowledge_need": pct / 100} if docs else {}))
    # the report of issue #13: about half the questions need the documents, a dozen examples
    out.append(Cell("knowledge", "47% docs, 12 examples", "rag", n_examples=12, knowledge=15 / 32, n_questions=32,
                    docs=True, target={"knowledge_need": 15 / 32}))
    out.append(Cell("knowledge", "40% docs, no examples", "rag", n_examples=0, knowledge=0.4, docs=True))
    out.append(Cell("knowledge", "docs, questions without references", "rag", n_examples=0, docs=True, references=False))
    for fmt in ("json", "labelled", "free"):
        for n in (0, 10, 40, 80, 300, 600):
            strict = fmt != "free"
            want = "fine-tuned" if strict and n >= 50 else "few-shot"
            also = "fine-tuned" if strict and 0 < n < 50 else None
            out.append(Cell("examples", f"{n} {fmt}", want, also, n_examples=n, fmt=fmt))
    for pct in (0, 4, 8, 16, 25, 40):
        out.append(Cell("jargon", f"{pct}%", "fine-tuned" if pct >= 12 else "few-shot", n_examples=150,
                        jargon=pct / 100, target={"domain_share": pct / 100}))
    return out


def write(cell: Cell, corpora: Path) -> Path:
    folder = corpora / cell.name
    folder.mkdir(parents=True)
    rows = [{"input": sprinkle(f"{COMMON[i % len(COMMON)]} ({i})", cell.jargon, i),
             "output": sprinkle(output(cell.fmt, i), cell.jargon if cell.fmt == "free" else 0.0, i + 1)}
            for i in range(cell.n_examples)]
    if rows:
        (folder / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    needing = round(cell.knowledge * cell.n_questions)
    questions = [question(i, i < needing) for i in range(cell.n_questions)]
    if not cell.references:
        questions = [{k: v for k, v in q.items() if k != "reference"} for q in questions]
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    if cell.docs:
        (folder / "docs").mkdir()
        (folder / "docs" / "handbook.md").write_text(docs_text(cell.n_questions))
    return folder


def copy_unseen(name: str, corpora: Path) -> Path:
    """An unseen dataset's data files (not its generator script or README) under ``corpora``."""
    return Path(shutil.copytree(UNSEEN / name, corpora / name, ignore=shutil.ignore_patterns("*.py", "README.md")))


def advise_on_data(workspace, dataset: str) -> Advice:
    """The data-signal verdict (no eval, no judgments, no tokenizer): signals, estimated cost, decide."""
    signals = compute_signals(workspace, dataset)
    return decide(signals, cost=estimate_cost(workspace, signals))


def run(cell: Cell, root: Path) -> Advice:
    write(cell, root / "corpora")
    return advise_on_data(load_workspace(root), cell.name)


def confusion(pairs: list[tuple[str, str]]) -> str:
    """Markdown confusion table: rows expected, columns predicted."""
    lines = ["| expected \\ advised | " + " | ".join(PIPELINES) + " |", "| --- " * (len(PIPELINES) + 1) + "|"]
    for want in PIPELINES:
        lines.append(f"| {want} | " + " | ".join(str(sum(1 for w, g in pairs if (w, g) == (want, got)))
                                                 for got in PIPELINES) + " |")
    return "\n".join(lines)


def _report(title: str, rows: list[tuple[str, tuple, tuple]]) -> None:
    """rows: (cell, expected (recommendation, also), advised (recommendation, also))."""
    misses = [f"- {name}: expected {want}, advised {got}" for name, want, got in rows if want != got]
    print(f"### {title}: {len(rows) - len(misses)} of {len(rows)} with the expected verdict and `also`\n")
    print(confusion([(want[0], got[0]) for _, want, got in rows]))
    print("\n".join(["", *misses, ""]))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        matrix = []
        for i, cell in enumerate(cells()):
            advice = run(cell, Path(tmp) / str(i))
            matrix.append((f"{cell.axis} {cell.value}", (cell.expected, cell.also), (advice.recommendation, advice.also)))
        unseen = []
        for name, want in EXPECTED.items():
            copy_unseen(name, Path(tmp) / "unseen" / "corpora")
            advice = advise_on_data(load_workspace(Path(tmp) / "unseen"), name)
            unseen.append((name, want, (advice.recommendation, advice.also)))
    _report("Verdict matrix (one signal varied at a time)", matrix)
    _report("Unseen datasets", unseen)
    for name, want, got in unseen:
        print(f"- {name}: {got[0]}" + (f" (also {got[1]})" if got[1] else ""))


if __name__ == "__main__":
    main()

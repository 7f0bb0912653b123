"""A scripted fine-tuning provider for learning-curve tests, on tests/fakeserver.py (loopback HTTP, the
real openai client): each created job succeeds once released, its model named after the curve size;
the chat answers of a model trained on more examples get more JSON fields right, so the curve rises."""

from __future__ import annotations

import json
import threading
import time

from fakeserver import FakeServer, Reply, fake_endpoints_toml

FIELDS = ("name", "age", "city", "job")
REFERENCE = {"name": "Ada", "age": "36", "city": "Oslo", "job": "pilot"}


def write_dataset(root, name: str = "people", n: int = 64, questions: int = 6) -> None:
    """Examples with two answer shapes (a JSON record, a one-word label), held-out questions with JSON references."""
    folder = root / "corpora" / name
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        answer = json.dumps({**REFERENCE, "age": str(20 + i)}) if i % 4 else "unknown"
        rows.append({"messages": [{"role": "system", "content": "Extract the person as JSON."},
                                  {"role": "user", "content": f"Person {i}: Ada, {20 + i}, Oslo, pilot."},
                                  {"role": "assistant", "content": answer}]})
    (folder / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "questions.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "question": f"Who is person {i}?", "reference": json.dumps(REFERENCE)}) + "\n"
        for i in range(questions)))


def workspace_toml(base_url: str) -> str:
    return fake_endpoints_toml(base_url)


def answer_for(model: str) -> str:
    """ft:fake-model:curve-N answers N // 16 of the four fields right (the base model: none)."""
    size = int(model.rsplit("-", 1)[1]) if model.startswith("ft:fake-model:curve-") else 0
    right = min(len(FIELDS), size // 16)
    return json.dumps({f: REFERENCE[f] if i < right else "?" for i, f in enumerate(FIELDS)})


class CurveProvider:
    """FakeServer plus a thread that finishes the first ``release`` jobs created (None: every job)."""

    def __init__(self, release: int | None = None):
        self.server = FakeServer(lambda body: Reply(answer_for(body.get("model", ""))))
        self.release = release
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "CurveProvider":
        self.server.start()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            for i, job in enumerate(self.server.jobs):
                if job["status"] == "queued":
                    job["status"] = "running"
                elif job["status"] == "running" and (self.release is None or i < self.release):
                    size = int((job.get("metadata") or {}).get("curve_size", 0))
                    job.update(status="succeeded", fine_tuned_model=f"ft:fake-model:curve-{size}",
                               trained_tokens=100 * size, finished_at=int(time.time()))
            time.sleep(0.05)


"""`sandbox advise`: say which approach (few-shot, RAG, fine-tuning) the evidence favours."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sandbox.commands.shared import DatasetArg, JsonOpt, ReportOpt, app, console, print_json, workspace, write_report_file


@app.command("advise")
def advise_command(dataset: Optional[str] = DatasetArg, as_json: bool = JsonOpt,
                   report: Optional[Path] = ReportOpt,
                   session: Optional[str] = typer.Option(None, "--session", help="Human evidence from this judging session only (its dataset by default).")) -> None:
    """Say whether few-shot prompting, RAG or fine-tuning fits this dataset, with the evidence.

    Works from the data alone (example count, output format, jargon, need for document facts,
    prompt length and cost); uses `sandbox eval` results and judgments when they exist.
    """
    from rich.text import Text

    from sandbox.advisor import advise, explain, headline

    ws = workspace()
    if session:
        from sandbox.sessions import get_session
        from sandbox.store import open_store

        found = get_session(open_store(ws), session)
        dataset, session = dataset or found.dataset, found.id
    advice = advise(ws, dataset, session_id=session)
    if report:
        write_report_file(ws, advice.dataset, report, advice=advice)
    if as_json:
        print_json(advice.contract())
        return
    out = console()
    out.print(Text(headline(advice), style="bold"))
    for indent, line in explain(advice):
        out.print("  " * indent + line, markup=False)
    out.print("Next steps:")
    for step in advice.next_steps:
        out.print(f"  - {step}", markup=False)

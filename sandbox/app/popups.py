"""Pop-up messages (gr.Warning / gr.Error) as text: Gradio renders their message as HTML.

Messages carry user data (a line of an uploaded file, a dataset name, an endpoint's error), so they are
escaped here; line breaks stay line breaks. API handlers (gr.api) raise plain gr.Error: clients get text.
"""

from __future__ import annotations

import html


def as_text(message: object) -> str:
    return html.escape(str(message)).replace("\n", "<br>")


def warn(message: object) -> None:
    import gradio as gr

    gr.Warning(as_text(message))


def error(message: object) -> Exception:
    """``raise popups.error(exc) from exc``: an error pop-up showing ``message`` as text."""
    import gradio as gr

    return gr.Error(as_text(message))

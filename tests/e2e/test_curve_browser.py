"""The Fine-tune tab's learning curve in headless Chromium: start it, watch the progress (point k of n)
while the chart and the table fill in point by point, then the finished curve with its read-outs. The
fine-tuning provider and the model are scripted on loopback (tests/curvefake.py)."""

import pytest

from curvefake import CurveProvider, workspace_toml, write_dataset

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TIMEOUT = 90_000  # generous: the shared CI box may be busy; nothing here waits on purpose


def _status_has(page, text: str) -> None:
    page.wait_for_function(f"() => document.querySelector('#curve-status textarea')?.value.includes({text!r})",
                           timeout=TIMEOUT)


def test_learning_curve_chart_appears_with_progress(app_factory, browser):
    with CurveProvider(release=1) as provider:  # the first size finishes, the second keeps training
        def prepare(root):
            write_dataset(root, "people")
            (root / "sandbox.toml").write_text(workspace_toml(provider.server.base_url))

        url, _, _ = app_factory(prepare=prepare)
        page = browser.new_page()
        page.goto(url)
        page.locator("#dataset input").fill("people")
        page.locator("#dataset input").press("Enter")
        page.get_by_role("tab", name="Fine-tune").click()
        _status_has(page, "No learning curve yet")
        page.locator("#curve-sizes textarea, #curve-sizes input").first.fill("16,all")
        page.locator("#curve-epochs input").fill("2")
        page.locator("#curve-start").click()

        _status_has(page, "point 2 of 2")  # the first point is scored while the second trains...
        page.wait_for_selector("#curve-chart img", timeout=TIMEOUT)  # ... and the chart shows it already
        assert "16" in page.locator("#curve-table").inner_text()
        assert "training" in page.locator("#curve-status textarea").input_value()

        provider.release = None
        _status_has(page, "is done")
        page.wait_for_function("() => document.querySelector('#curve-table')?.innerText.includes('few-shot (reference)')",
                               timeout=TIMEOUT)
        readout = page.locator("#curve-readout textarea").input_value()
        assert "json_values" in readout and "Doubling to" in readout
        created = [j["metadata"] for j in provider.server.jobs]
        assert [m["curve_size"] for m in created] == ["16", "57"] and all("dataset" not in m for m in created)

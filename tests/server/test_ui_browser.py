"""The web UI in a real headless Chromium, driven as a person would use it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image, ImageFilter

from ..conftest import noise_image

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("VLRERANK_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    from skimage import data

    folder = tmp_path_factory.mktemp("ui-images")
    photo = Image.fromarray(data.coffee())
    paths = {
        "query": folder / "query.jpg",
        "coffee": folder / "coffee.jpg",
        "rocket": folder / "rocket.png",
        "blurry": folder / "blurry.jpg",
    }
    noise_image(120, 90, 1).save(paths["query"])
    photo.save(paths["coffee"])
    Image.fromarray(data.rocket()).save(paths["rocket"])
    photo.resize((1024, 683)).filter(ImageFilter.GaussianBlur(5)).save(paths["blurry"])
    return paths


def test_rerank_three_candidates_in_the_browser(ui_server, browser, pictures):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", "localhost")
            and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    page.goto(ui_server.url, wait_until="networkidle")
    assert "RANDOM weights" in page.content()

    page.get_by_label("Query text").fill("a cup of coffee")
    page.locator("#query-image input[type=file]").set_input_files(str(pictures["query"]))
    page.locator("#candidates input[type=file]").set_input_files(
        [str(pictures["coffee"]), str(pictures["rocket"]), str(pictures["blurry"])]
    )
    facts = page.locator("#image-facts")
    facts.get_by_text("coffee.jpg").wait_for(timeout=30_000)
    text = facts.inner_text()
    assert "600×400 · 3:2" in text and "640×427" in text and "1024×683" in text and "KB" in text

    threshold = page.locator("#quality-threshold input[type=number]")
    threshold.fill("0.5")
    threshold.press("Enter")

    page.get_by_role("button", name="Rerank").click()
    results = page.locator("#results .vlr-result")
    results.first.wait_for(timeout=60_000)
    assert results.count() == 2  # the blurry photo is rejected at 0.5
    rejected = page.locator("#results .vlr-rejected li")
    assert (
        rejected.count() == 1
        and "blurry.jpg" in rejected.inner_text()
        and "below 0.50" in rejected.inner_text()
    )
    scores = [float(s) for s in page.locator("#results .vlr-score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)

    first = results.first
    first.locator("summary").click()
    details = first.locator("details table").inner_text()
    labels = ["overall score", "visual match", "text alignment", "cross modal consistency", "visual tokens"]
    for label in [*labels, "quality", "preprocessing", "model sees"]:
        assert label in details
    assert "n/a:" in details  # single-modality candidates: the reason is shown

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-rerank.png"), full_page=True)
    assert outside == [], f"the page reached outside the server: {outside}"
    page.close()


def test_errors_are_messages_not_traces(ui_server, browser):
    page = browser.new_page()
    page.goto(ui_server.url, wait_until="networkidle")
    page.get_by_role("button", name="Rerank").click()
    alert = page.locator("#results .vlr-error")
    alert.wait_for(timeout=30_000)
    assert "Add at least one candidate" in alert.inner_text() and "Traceback" not in page.content()
    page.close()


def test_the_ui_works_after_entering_the_key(keyed_ui_server, browser):
    from .conftest import UI_KEY

    context = browser.new_context()
    page = context.new_page()
    page.goto(keyed_ui_server.url, wait_until="networkidle")
    assert page.url.endswith("/login") and "Rerank" not in page.content()

    page.get_by_label("API key").fill("not-the-key")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("That key is not valid.").wait_for(timeout=10_000)

    page.get_by_label("API key").fill(UI_KEY)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(keyed_ui_server.url, timeout=30_000)
    page.get_by_label("Candidate text snippets (one per line)").fill("a cup of coffee\na rocket")
    page.get_by_label("Query text").fill("coffee")
    page.get_by_role("button", name="Rerank").click()
    results = page.locator("#results .vlr-result")
    results.first.wait_for(timeout=60_000)
    assert results.count() == 2
    (cookie,) = [c for c in context.cookies() if c["name"] == "vlrerank_key"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "vlrerank_key" not in page.evaluate("document.cookie")  # page scripts never see the key

    assert page.get_by_role("link", name="Log out").get_attribute("href") == "/logout"
    page.goto(keyed_ui_server.url + "logout")
    assert page.url.endswith("/login") and context.cookies() == []
    context.close()


@pytest.fixture(scope="module")
def calibrated_ui(tiny_dir, reranker, tmp_path_factory):
    """A UI server with a calibrator whose threshold falls between the 2nd and 3rd candidate."""
    from vlrerank.calibration import Calibrator
    from vlrerank.config import DEFAULT_INSTRUCTION

    from ..servers import start_server, stop

    texts = ["a cup of coffee", "a rocket on the launch pad", "espresso in a cup", "a violin"]
    ranked = reranker.rank({"text": "coffee"}, [{"text": t} for t in texts], DEFAULT_INSTRUCTION)
    scores = [r.score for r in ranked]
    calibrator = Calibrator(  # identity Platt curve: p equals the model's score
        "platt", {"slope": 1.0, "intercept": 0.0}, model=str(tiny_dir), instruction=DEFAULT_INSTRUCTION,
        threshold=(scores[1] + scores[2]) / 2, threshold_rule="max-f1",
    )  # fmt: skip
    path = calibrator.save(tmp_path_factory.mktemp("ui-calibration") / "calibrator.json")
    server = start_server(["--model", str(tiny_dir), "--calibration", str(path)], {})
    yield server, texts, calibrator.threshold
    stop(server)


def test_calibrated_results_comparison_and_quality_reasons(calibrated_ui, browser, pictures):
    server, texts, threshold = calibrated_ui
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(server.url, wait_until="networkidle")
    assert "Calibrated probabilities from" in page.content()
    page.get_by_label("Query text").fill("coffee")
    page.get_by_label("Candidate text snippets (one per line)").fill("\n".join(texts))
    page.locator("#candidates input[type=file]").set_input_files([str(pictures["blurry"])])
    page.get_by_role("button", name="Rerank").click()
    results = page.locator("#results .vlr-result")
    results.first.wait_for(timeout=60_000)
    assert results.count() == 4
    shown = page.locator("#results .vlr-probability").all_inner_texts()
    assert len(shown) == 4 and all(f"(threshold {threshold:.3f})" in s for s in shown)
    below = page.locator("#results .vlr-result.vlr-below")
    assert below.count() == 2 and all("below threshold" in t for t in below.all_inner_texts())
    # The blurry photo is rejected by the quality gate, naming the measure and its value.
    rejected = page.locator("#results .vlr-rejected li").inner_text()
    assert "blurry.jpg" in rejected and "lowered by: sharpness 0." in rejected

    page.locator("#instruction-b textarea").fill("Find musical instruments.")
    page.get_by_role("button", name="Rerank").click()
    page.locator("#results .vlr-compare").wait_for(timeout=60_000)
    sides = page.locator("#results .vlr-side")
    assert sides.count() == 2 and "Find musical instruments." in sides.nth(1).inner_text()
    # One calibrator, fitted for A's instruction: each side says whether it fits.
    assert "calibrator fitted for this instruction" in sides.nth(0).inner_text()
    assert "no calibrator fits this instruction" in sides.nth(1).inner_text()
    assert (
        sides.nth(0).locator(".vlr-result").count() == 4 and sides.nth(1).locator(".vlr-result").count() == 4
    )
    moved = page.locator("#results .vlr-moved tr[data-index]")
    assert moved.count() == 4
    assert "Moved:" in page.locator("#results").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-calibrated-compare.png"), full_page=True)
    page.close()


def test_a_dropped_pdf_is_ranked_by_its_best_page(ui_server, browser, tmp_path):
    from vlrerank.study.sample.pdfs import table_page, text_page, write_pdf

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(write_pdf([text_page("Report", ["Revenue grew."]), table_page("Sales", ["A"], [["1"]])]))
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(ui_server.url, wait_until="networkidle")
    page.get_by_label("Query text").fill("sales by region")
    page.locator("#candidates input[type=file]").set_input_files([str(pdf)])
    page.locator("#image-facts").get_by_text("report.pdf").wait_for(timeout=30_000)
    assert "PDF" in page.locator("#image-facts").inner_text()
    page.locator("#texts textarea").fill("a plain text candidate")
    page.get_by_role("radio", name="off").check()  # the quality gate is another test's subject
    page.get_by_role("button", name="Rerank").click()
    results = page.locator("#results .vlr-result")
    results.first.wait_for(timeout=60_000)
    assert results.count() == 2, page.locator("#results").inner_text()
    best = page.locator("#results .vlr-page")
    assert best.count() == 1 and best.inner_text() in ("best page 1", "best page 2")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "ui-pdf.png"
    page.locator("#results").screenshot(path=str(shot))
    with Image.open(shot) as image:  # the results really are on screen, not an empty box
        grey = image.convert("L")
        assert image.width > 300 and image.height > 60
        assert grey.getextrema()[1] - grey.getextrema()[0] > 100
    page.close()

"""The page in a real browser: headless Debian Chromium (driven by selenium through
Debian's chromedriver, no download) loads ``/`` from a live ``kgrec serve``, a request is
typed, ten results with explanations appear, a click shows the explanation graph, and
the console stays free of errors (a CSP violation or a script error would show there).

The screenshot is saved in the test's tmp folder and copied to ``results/web-page.png``
(git-ignored). Skipped, with the reason, where Chromium, its driver or selenium is
missing (``.ci/run`` installs them when it can).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,1000")
RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.is_file() and DRIVER.is_file()):
        pytest.skip("Debian chromium / chromium-driver not installed "
                    "(apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_page_recommends_with_explanations_and_draws_the_graph(browser, live_server,
                                                               tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 90)
    browser.get(f"{live_server.url}/")
    wait.until(lambda d: d.find_element(By.ID, "model").text)  # /v1/model answered
    assert "sample" in browser.find_element(By.ID, "model").text
    box = browser.find_element(By.ID, "q")
    box.send_keys("a 90s crime film like Pulp Fiction", Keys.ENTER)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results li.result")) == 10)
    results = browser.find_elements(By.CSS_SELECTOR, "#results li.result")
    titles = [r.find_element(By.CLASS_NAME, "title").text for r in results]
    sentences = [r.find_element(By.CLASS_NAME, "explanation").text for r in results]
    assert all(titles) and len(set(titles)) == 10
    assert all(s and not s.startswith("(no explanation") for s in sentences), sentences
    assert "Pulp Fiction (1994)" not in titles  # a named movie is not recommended back

    results[0].click()
    wait.until(ec.visibility_of_element_located((By.ID, "graph")))
    nodes = browser.find_elements(By.CSS_SELECTOR, "#graph-svg svg g.node")
    assert len(nodes) >= 2
    assert browser.find_element(By.ID, "graph-title").text == titles[0]
    assert browser.find_elements(By.CSS_SELECTOR, "#graph-text li")

    shot = tmp_path / "web-page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    RESULTS.mkdir(exist_ok=True)
    shutil.copy(shot, RESULTS / "web-page.png")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_page_shows_the_library_message_for_an_unknown_title(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server.url}/")
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=liked]").click()
    browser.find_element(By.ID, "q").send_keys("Pulp Fictoin", Keys.ENTER)
    status = WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#status.error"))
    assert "did you mean 'Pulp Fiction'" in status.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#results li.result")

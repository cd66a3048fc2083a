"""The explorer in a real browser: headless Chromium through Selenium, the page opened from a file.

Each test reads the numbers off the page and compares them with chainrule's own.
Without Chromium, its driver or Selenium, these tests skip with a one-line reason
(``apt-get install -y chromium chromium-driver``; ``pip install selenium``).
With CHAINRULE_UPDATE_DOCS=1 they also write the tutorial's explorer page and the
README's screenshot into docs/.
"""

import json
import os
import pathlib
import re
import shutil

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn, viz
from chainrule.viz import expr

APPLE = "(apple*apple_num + orange*orange_num)*tax"
PRICES = {"apple": 100, "apple_num": 2, "orange": 150, "orange_num": 3, "tax": 1.1}
DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install selenium)")
    chromium, driver = _chromium(), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,900", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        chrome = webdriver.Chrome(service=Service(driver), options=options)
    except Exception as error:  # noqa: BLE001 -- any failure to start means: no browser here
        pytest.skip(f"Chromium did not start ({str(error).splitlines()[0]})")
    yield chrome
    chrome.quit()


def open_page(browser, path):
    browser.get_log("browser")  # drop what an earlier page logged
    browser.get_log("performance")
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(path.as_uri())
    try:  # the page's script marks the body when it has run (at once, but the machine is busy)
        WebDriverWait(browser, 20, poll_frequency=0.05).until(
            lambda b: b.execute_script("return document.body && document.body.dataset.ready"))
    except TimeoutException:
        pytest.fail(f"the page never got ready: {browser.get_log('browser')}")


def assert_quiet(browser, page_url):
    """No console error and no network request but the page's own file."""
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    requests = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    assert set(requests) <= {page_url}


def nodes(browser):
    """name -> (value text, grad text) of every Variable drawn on the page."""
    return {name: (value, grad) for name, value, grad in browser.execute_script(
        "return [...document.querySelectorAll('.node.variable')].map(g => ["
        "g.querySelector('.name').textContent, g.querySelector('.value').textContent,"
        "g.querySelector('.grad').textContent])")}


def panel_rows(browser):
    """input name -> (local text, product text) in the step's panel."""
    return {name: (local, product) for name, local, product in browser.execute_script(
        "return [...document.querySelectorAll('#panel tr[data-var]')].map(r => ["
        "r.dataset.var, (r.querySelector('.local') || {}).textContent,"
        "(r.querySelector('.product') || {}).textContent])")}


def number(text, prefix=""):
    assert text.startswith(prefix), text
    return float(text[len(prefix):])


def test_stepping_through_the_apple_graph_shows_chainrules_numbers(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with viz.record() as trace:
        price, inputs = expr.evaluate(APPLE, PRICES)
        price.backward(retain_grad=True)  # every intermediate's gradient, for comparison
    page = viz.explore(price, trace=trace, title=f"chainrule explorer: {APPLE}")
    path = page.save(tmp_path / "apple.html")
    open_page(browser, path)
    z3 = price.creator.inputs[0]
    apple_price, orange_price = z3.creator.inputs
    variables = dict(inputs, **{"apple·apple_num": apple_price, "orange·orange_num": orange_price,
                                "z3": z3, "L": price})
    forward = [apple_price, orange_price, z3, price]  # the order of the calls
    backward = [price.creator, z3.creator, apple_price.creator, orange_price.creator]
    computed, graded = set(inputs), set()
    body = browser.find_element(By.TAG_NAME, "body")
    for k in range(1, 9):
        if k <= 4:
            browser.find_element(By.ID, "next").click()
            computed.add(next(n for n, v in variables.items() if v is forward[k - 1]))
            expected = f"forward {k} / 4: {forward[k - 1].creator.name}"
        else:
            body.send_keys(Keys.ARROW_RIGHT)
            f = backward[k - 5]
            z = next(n for n, v in variables.items() if v.creator is f)
            graded |= {z} | {n for n, v in variables.items() if any(v is x for x in f.inputs)}
            expected = f"backward {k - 4} / 4: {f.name}"
        assert browser.find_element(By.ID, "counter").text == expected
        shown = nodes(browser)
        assert set(shown) == set(variables)
        for name, v in variables.items():
            value, grad = shown[name]
            assert (value != "") == (name in computed), (expected, name)
            if value:
                assert number(value) == v.data
            assert (grad != "") == (name in graded), (expected, name)
            if grad:
                assert number(grad, "grad ") == v.grad.data
        if k > 4:  # the panel: upstream, local derivative, product, in numbers
            upstream = browser.find_element(By.CSS_SELECTOR, "#panel .upstream").text
            assert number(upstream.rpartition("= ")[2]) == variables[z].grad.data
            rows = panel_rows(browser)
            for x, other in zip(f.inputs, reversed(f.inputs)):
                name = next(n for n, v in variables.items() if v is x)
                local, product = rows[name]
                assert number(product) == x.grad.data
                assert number(local) == (other.data if f.name == "mul" else 1.0)
        if k == 7 and os.environ.get("CHAINRULE_UPDATE_DOCS"):  # the README's picture
            size = browser.get_window_size()
            browser.set_window_size(1280, 480)
            browser.save_screenshot(str(DOCS / "explorer-apple.png"))
            browser.set_window_size(size["width"], size["height"])
    final = nodes(browser)
    assert final["apple"][1] == "grad 2.2"
    assert final["orange_num"][1] == "grad 165"
    assert final["tax"][1] == "grad 650"
    assert_quiet(browser, path.as_uri())
    if os.environ.get("CHAINRULE_UPDATE_DOCS"):
        page.save(DOCS / "explorer-apple.html")


def test_stepping_back_undoes_and_the_keys_move_through_the_steps(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    price, inputs = expr.evaluate(APPLE, PRICES)
    path = viz.explore(price).save(tmp_path / "apple.html")
    open_page(browser, path)
    body = browser.find_element(By.TAG_NAME, "body")
    counter = browser.find_element(By.ID, "counter")
    body.send_keys(Keys.END)
    assert counter.text == "backward 4 / 4: mul"
    assert nodes(browser)["orange"][1] == "grad 3.3000000000000003"
    body.send_keys(Keys.ARROW_LEFT)
    assert counter.text == "backward 3 / 4: mul" and nodes(browser)["orange"][1] == ""
    browser.find_element(By.ID, "back").click()
    assert nodes(browser)["apple"][1] == ""
    browser.find_element(By.ID, "reset").click()
    assert counter.text == "start" and nodes(browser)["L"] == ("", "")
    assert nodes(browser)["tax"] == ("1.1", "")
    play = browser.find_element(By.ID, "play")
    play.click()  # plays on, one step at a time, until paused
    assert play.text == "pause"
    for _ in range(50):
        if counter.text == "forward 2 / 4: mul":
            break
        browser.execute_script("return new Promise(r => setTimeout(r, 100))")
    play.click()
    assert play.text == "play" and counter.text == "forward 2 / 4: mul"
    browser.execute_script("return new Promise(r => setTimeout(r, 1000))")
    assert counter.text == "forward 2 / 4: mul"  # paused
    assert_quiet(browser, path.as_uri())


def test_the_final_step_is_drawn_not_blank(browser, tmp_path):
    from matplotlib.image import imread

    price, _ = expr.evaluate(APPLE, PRICES)
    path = viz.explore(price).save(tmp_path / "apple.html")
    open_page(browser, path)
    browser.execute_script("window.chainruleExplorer.go(window.chainruleExplorer.steps - 1)")
    shot = tmp_path / "final.png"
    browser.save_screenshot(str(shot))
    pixels = imread(shot)[..., :3]
    ink = (pixels.min(axis=2) < 0.6).mean()  # darker than a light fill: text, lines
    assert ink > 0.01
    assert len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 20


def test_a_small_mlp_folded_per_module_runs_quietly_and_opens_full_arrays(browser, tmp_path):
    from selenium.webdriver.common.by import By

    np.random.seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    x = cr.Variable(np.random.rand(4, 8).astype(np.float32), requires_grad=False, name="x")
    loss = F.softmax_cross_entropy(model(x), np.array([0, 1, 2, 1]))
    path = viz.explore(loss, collapse=True, model=model).save(tmp_path / "mlp.html")
    open_page(browser, path)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".node.module")) == 2
    steps = browser.execute_script("return window.chainruleExplorer.steps")
    opened = False
    for _ in range(1, steps):
        browser.find_element(By.ID, "next").click()
        boxes = browser.find_elements(By.CSS_SELECTOR, "#panel details.array")
        if boxes and not opened:
            boxes[0].find_element(By.TAG_NAME, "summary").click()
            full = boxes[0].find_element(By.TAG_NAME, "pre").text
            summary = boxes[0].find_element(By.TAG_NAME, "summary").text
            shape = re.match(r"\(([\d, ]+)\)", summary).group(1)
            size = int(np.prod([int(n) for n in shape.split(",") if n.strip()]))
            assert len(re.findall(r"-?\d+\.?\d*(?:e[-+]\d+)?", full)) == size
            opened = True
    assert opened
    assert browser.find_element(By.ID, "counter").text.startswith("backward ")
    assert_quiet(browser, path.as_uri())


def test_a_graph_of_500_nodes_loads_in_under_two_seconds(browser, tmp_path):
    rng = np.random.default_rng(0)
    y = cr.Variable(rng.normal(size=4), name="x")
    for i in range(125):
        w = cr.Variable(rng.normal(size=4) * 0.5, name=f"w{i}")
        y = F.tanh(y * w)
    loss = y.sum()
    page = viz.explore(loss)
    assert page.html.count('class="node ') >= 500
    path = page.save(tmp_path / "chain.html")
    open_page(browser, path)
    loaded = browser.execute_script("return window.chainruleExplorer.readyMs")
    assert loaded < 2000
    browser.execute_script("window.chainruleExplorer.go(window.chainruleExplorer.steps - 1)")
    assert browser.execute_script(
        "return document.getElementById('counter').textContent") == "backward 251 / 251: mul"
    assert_quiet(browser, path.as_uri())


def test_where_paths_meet_the_page_shows_the_sum_step_by_step(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    x = cr.Variable(np.array(3.0), name="x")
    y = x * x + x
    path = viz.explore(y).save(tmp_path / "meet.html")
    open_page(browser, path)
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(3):  # start -> forward 1, 2 -> backward 1 (add)
        body.send_keys(Keys.ARROW_RIGHT)
    assert nodes(browser)["x"] == ("3", "grad 1")
    body.send_keys(Keys.ARROW_RIGHT)  # backward 2 (mul): x·x sends 3 twice
    meets = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#panel .accumulation")]
    assert meets == ["paths meet at x: ∂L/∂x = 1 + 3 = 4", "paths meet at x: ∂L/∂x = 4 + 3 = 7"]
    y.backward()
    assert nodes(browser)["x"] == ("3", "grad 7") and x.grad.data == 7
    assert_quiet(browser, path.as_uri())

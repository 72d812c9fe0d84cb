"""Headless Chromium (Debian's, through chromedriver) for tests that look at pages.

NOTE: Selenium drives the system `chromium` with the matching Debian
`chromium-driver`; nothing is downloaded (Selenium Manager is not used when
both paths are given). A missing browser fails the test with the install
line rather than skipping it, so a machine without it cannot pass quietly.
"""
import base64
import contextlib
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from tests.support import wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars")

SETTLED = """return document.getAnimations().filter((a) => a.playState === 'running'
  && a.effect.getComputedTiming().iterations !== Infinity).length"""


class Browser:
    """One page in a headless Chromium: open, read the DOM, screenshot."""

    def __init__(self, driver):
        self.driver = driver

    def open(self, url):
        self.driver.get(url)

    def evaluate(self, script, *args):
        """Run `script` (a function body: use `return`) in the page."""
        return self.driver.execute_script(script, *args)

    def wait_for(self, script, predicate, timeout=30.0, message="page condition"):
        """Poll the page with `script` until `predicate(result)` holds; return the result."""
        last = {}

        def check():
            last["value"] = self.evaluate(script)
            return predicate(last["value"])

        try:
            wait_until(check, timeout, interval=0.1, message=message)
        except AssertionError as ex:
            raise AssertionError(f"{ex}; the page showed {last.get('value')!r}") from None
        return last["value"]

    def console_errors(self, source=None):
        """Return the page's SEVERE console entries (from `source` only, if given) since the last call."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE" and source in (None, entry.get("source"))]

    def screenshot(self, path):
        """Save the whole page (not only the first screen) as a PNG at `path`.

        Waits for finite CSS transitions and animations to end first, so a bar
        that just moved to 100% is drawn at 100%.
        """
        self.wait_for(SETTLED, lambda running: running == 0, timeout=10, message="animations to end")
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return path


class CuttableLink:
    """A loopback TCP proxy to `port` whose connections a test can cut.

    NOTE: Chromium's offline emulation fails new requests but leaves an open
    EventSource stream alone; closing the sockets is what a dropped network
    or a restarted proxy does to a browser.
    """

    def __init__(self, port):
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._sockets = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="cuttable-link", daemon=True).start()

    def cut(self):
        """Close every open connection and refuse new ones until `restore()`."""
        self._up.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def restore(self):
        self._up.set()

    def close(self):
        self.cut()
        self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                if not self._up.is_set():
                    raise OSError("link is cut")
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@contextlib.contextmanager
def chromium(width=1280, height=900):
    """Yield a `Browser` on a fresh, empty profile; quit it afterwards."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: run `make browser` (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="docg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield Browser(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

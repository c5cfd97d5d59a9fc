"""A real headless Chromium driven over the Chrome DevTools protocol, for the page tests.

The protocol runs over `--remote-debugging-pipe` (file descriptors 3 and 4, JSON messages ending
in NUL), so the standard library is enough: no websocket client, no playwright. Written by hand
because no dependency in the test extra speaks the protocol.

Example:
    >>> with Browser.launch() as b:  # doctest: +SKIP
    ...     page = b.open("file:///tmp/index.html")
    ...     page.evaluate("document.title")
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

#: Executables tried in order; the first is Debian's `chromium-headless-shell` package.
CANDIDATES = ("chromium-headless-shell", "chrome-headless-shell", "chromium", "chromium-browser",
              "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60.0


def find_browser() -> str | None:
    """Path of a Chromium to drive: `$GUNSHOT_BENCH_BROWSER`, else the first of `CANDIDATES` on PATH."""
    env = os.environ.get("GUNSHOT_BENCH_BROWSER")
    if env:
        return env if os.access(env, os.X_OK) else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


class BrowserError(RuntimeError):
    """The browser died, timed out or answered a command with an error."""


@dataclass
class Page:
    """One tab: its session on the pipe and everything it reported (console, exceptions, log)."""

    browser: Browser
    session: str
    errors: list[str] = field(default_factory=list)

    def send(self, method: str, **params) -> dict:
        return self.browser.send(method, params, session=self.session)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited); raises on an exception."""
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression[:60]}...: {reply['exceptionDetails'].get('exception', {}).get('description')}")
        return reply["result"].get("value")

    def record(self, message: dict) -> None:
        """Keep what counts as a page error: uncaught exceptions, console.error/assert, error log entries
        (a resource that failed to load is logged there)."""
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            self.errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                             for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            e = params["entry"]
            self.errors.append(f"log: {e.get('text')} {e.get('url', '')}".strip())


class Browser:
    """A headless Chromium process and the DevTools pipe to it."""

    def __init__(self, executable: str):
        self._profile = tempfile.TemporaryDirectory(prefix="gunshot-bench-browser-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():  # the protocol expects its pipe on fds 3 (commands in) and 4 (replies out)
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [executable, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--allow-file-access-from-files",
                f"--user-data-dir={self._profile.name}", "about:blank"]
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=wire_fds,  # noqa: PLW1509 - single-threaded test
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._buffer = b""
        self._pages: dict[str, Page] = {}

    @classmethod
    def launch(cls, executable: str | None = None) -> Browser:
        exe = executable or find_browser()
        if exe is None:
            raise BrowserError("no Chromium found (install Debian's chromium-headless-shell)")
        return cls(exe)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close", {}, timeout_s=5.0)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    # ---------------------------------------------------------------- the pipe

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for the browser")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"the browser closed the pipe: {self.proc.stderr.read(2000)!r}"
                                   if self.proc.poll() is not None else "the browser closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _dispatch(self, message: dict) -> None:
        page = self._pages.get(message.get("sessionId"))
        if page is not None:
            page.record(message)

    def send(self, method: str, params: dict, session: str | None = None, timeout_s: float = TIMEOUT_S) -> dict:
        """Send one command and return its result; events that arrive meanwhile go to their page."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._dispatch(reply)

    def wait_for(self, event: str, session: str, timeout_s: float = TIMEOUT_S) -> dict:
        """Read until `event` arrives for `session`; other events go to their page."""
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._read_message(deadline)
            self._dispatch(message)
            if message.get("method") == event and message.get("sessionId") == session:
                return message.get("params", {})

    # ---------------------------------------------------------------- pages

    def open(self, url: str, timeout_s: float = TIMEOUT_S) -> Page:
        """A new tab at `url`, returned once its load event fired (every image loaded or failed)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self._pages[session] = page
        for domain in ("Page", "Runtime", "Log"):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", session, timeout_s)
        return page

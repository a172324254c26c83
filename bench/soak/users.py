"""Simulated staff: agents and supervisors working through the real pages, and a /healthz probe.

Each user is a thread with its own httpx client (its own session cookie and keep-alive
connection), logs in through the login form and sends the CSRF token the pages carry,
like a browser. Type-ahead search and the customer page's lazy panels are requested with
`HX-Request`, as htmx does. Every request is timed and named by page; every write is
entered in the ledger with what the server answered, so that the database can be
checked against it afterwards.
"""
from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)"')
MOMENT_TYPES = re.compile(r'<select[^>]*name="moment_type"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option[^>]*value="([^"]+)"')
APPROVE = re.compile(r'action="/compensations/(\d+)/approve"')
ISSUE = re.compile(r'action="/compensations/(\d+)/issue"')
FLASH = re.compile(r'class="flash flash-(\w+)"')
ZONE = ZoneInfo("Europe/Madrid")  # the app's default CRM_TIMEZONE, in which forms speak

# Pages whose time is deliberately slow (password hashing) or trivial: reported, not judged.
NOT_JUDGED = {"login", "healthz"}
_request_numbers = itertools.count(1)


class Recorder:
    """Timings, statuses and errors per page, and the ledger of what the users created."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.lock = threading.Lock()
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)  # page -> [(started, ms)]
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.errors: list[tuple[float, str, str, str]] = []  # (monotonic, page, kind, detail)
        self.moments: dict[str, str] = {}  # ledger tag -> "confirmed" | "uncertain"
        self.decisions: dict[int, list[tuple[str, str, str]]] = defaultdict(list)  # comp id -> (action, who, state)
        self.conflicts = 0  # a decision another supervisor had already taken (a 302 with an error flash)
        # Times count from here: the warm-up before it (staff logging in, each worker's first
        # render of each page) is checked for errors but not timed.
        self.measure_from = float("inf")

    @property
    def measuring(self) -> bool:
        return time.monotonic() >= self.measure_from

    def sample(self, page: str, status: int, started: float, ms: float) -> None:
        with self.lock:
            self.statuses[page][status] += 1
            if status < 500 and started >= self.measure_from:
                self.samples[page].append((started, ms))
            if status >= 500:
                self.errors.append((time.monotonic(), page, "5xx", str(status)))

    def decision(self, compensation_id: int, action: str, who: str, state: str) -> None:
        with self.lock:
            self.decisions[compensation_id].append((action, who, state))

    def error(self, page: str, kind: str, detail: str) -> None:
        with self.lock:
            self.statuses[page][kind] += 1
            self.errors.append((time.monotonic(), page, kind, detail))


class Browser(threading.Thread):
    def __init__(self, base_url: str, recorder: Recorder, stop: threading.Event, rng: random.Random,
                 think: float, start_delay: float = 0.0):
        super().__init__(daemon=True)
        self.recorder, self.stop, self.rng, self.think_factor = recorder, stop, rng, think
        self.start_delay = start_delay
        # Idle connections are dropped after 4 s, before gunicorn's 5 s keep-alive closes them,
        # so that a request never races the server closing its connection.
        self.client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False,
                                   limits=httpx.Limits(keepalive_expiry=4))
        self.csrf: str | None = None

    def request(self, page: str, method: str, url: str, *, htmx: bool = False, **kwargs) -> httpx.Response | None:
        headers = {"X-Request-ID": f"soak-{page}-{next(_request_numbers)}"}
        if htmx:
            headers["HX-Request"] = "true"
        started, clock = time.monotonic(), time.perf_counter()
        try:
            response = self.client.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            self.recorder.error(page, "transport", f"{method} {url}: {type(exc).__name__}")
            return None
        self.recorder.sample(page, response.status_code, started, (time.perf_counter() - clock) * 1000)
        return response

    def expect(self, response: httpx.Response | None, page: str, *statuses: int) -> bool:
        if response is None or response.status_code >= 500:
            return False
        if response.status_code not in statuses:
            self.recorder.error(page, "unexpected", f"{response.status_code} {response.request.url.path}")
            return False
        match = CSRF.search(response.text)
        if match:
            self.csrf = match.group(1)
        return True

    def think(self, low: float, high: float) -> bool:
        """Wait like a person would; False once the run is over. During the warm-up everybody
        hurries, so that every worker has rendered every page once before times count."""
        hurry = 1.0 if self.recorder.measuring else 0.25
        return not self.stop.wait(self.rng.uniform(low, high) * self.think_factor * hurry)

    def login(self, email: str, password: str) -> bool:
        while not self.stop.is_set():
            page = self.request("login.form", "GET", "/login")
            if self.expect(page, "login.form", 200):
                done = self.request("login", "POST", "/login", data={
                    "csrf_token": self.csrf, "email": email, "password": password})
                if self.expect(done, "login", 302):
                    return True
            if not self.think(1, 2):
                return False
        return False

    def run(self) -> None:
        if self.start_delay and self.stop.wait(self.start_delay):
            return
        try:
            self.work()
        except Exception as exc:  # a bug in the harness must show, not silently stop a user
            self.recorder.error("harness", "exception", repr(exc))
        finally:
            self.client.close()

    def work(self) -> None:
        raise NotImplementedError


class Agent(Browser):
    """Front office: find the caller, open their page, talk, log the contact."""

    def __init__(self, number: int, email: str, password: str, customers: list, backdate_share: float, **kwargs):
        super().__init__(**kwargs)
        self.number, self.email, self.password = number, email, password
        self.customers, self.backdate_share = customers, backdate_share
        self.types: list[str] = []
        self.logged = 0

    def work(self) -> None:
        if not self.login(self.email, self.password):
            return
        self.expect(self.request("home", "GET", "/"), "home", 200)
        while not self.stop.is_set():
            self.one_call()

    def one_call(self) -> None:
        customer_id, name = self.rng.choice(self.customers)
        words = [w for w in name.split() if len(w) > 3] or name.split()
        term = self.rng.choice(words)
        # Type-ahead: the first letters, then the word (htmx waits 250 ms between keystrokes).
        for typed in (term[:3], term):
            self.request("search", "GET", "/customers", params={"q": typed}, htmx=True)
            if not self.think(0.3, 0.8):
                return
        if not self.think(1, 3):
            return
        page = self.request("customer", "GET", f"/customers/{customer_id}")
        if not self.expect(page, "customer", 200):
            return
        if not self.types:
            block = MOMENT_TYPES.search(page.text)
            self.types = [code for code in OPTION.findall(block.group(1))] if block else []
        # The lazy panels the page fetches as they scroll into view.
        self.request("customer.purchases", "GET", f"/customers/{customer_id}/purchases", htmx=True)
        self.request("customer.followups", "GET", f"/customers/{customer_id}/followups", htmx=True)
        if not self.types or not self.think(4, 12):  # the conversation
            return
        self.log_contact(customer_id)
        if self.rng.random() < 0.15:
            self.expect(self.request("home", "GET", "/"), "home", 200)
        self.think(2, 6)

    def log_contact(self, customer_id: int) -> None:
        self.logged += 1
        tag = f"[soak {self.recorder.run_id} a{self.number:02d}#{self.logged:04d}]"
        data = {"csrf_token": self.csrf, "moment_type": self.rng.choice(self.types),
                "notes": f"Llamada atendida. {tag}", "outcome": self.rng.choice(["pending", "pending", "resolved"]),
                "emotion": str(self.rng.randint(-2, 2))}
        if self.rng.random() < self.backdate_share:
            # Logged late: a call from days ago, whose commitments are already past due, so the
            # scheduler's sweep breaks them and supervisors get compensations to decide.
            self.request("log_details", "GET", f"/customers/{customer_id}/log-details", htmx=True)
            when = datetime.now(ZONE) - timedelta(days=self.rng.uniform(2, 6))
            data.update(occurred_at=when.strftime("%Y-%m-%dT%H:%M"), outcome="pending")
        response = self.request("log_moment", "POST", f"/customers/{customer_id}/moments", data=data)
        if response is None or response.status_code >= 500:
            self.recorder.moments[tag] = "uncertain"  # it may or may not have been written
            return
        if not self.expect(response, "log_moment", 302):
            return
        self.recorder.moments[tag] = "confirmed"
        self.expect(self.request("customer", "GET", response.headers["location"]), "customer", 200)


class Supervisor(Browser):
    """Breach review: approve (now and then reject) proposed compensations, issue approved ones."""

    def __init__(self, email: str, password: str, **kwargs):
        super().__init__(**kwargs)
        self.email, self.password = email, password

    def work(self) -> None:
        if not self.login(self.email, self.password):
            return
        while not self.stop.is_set():
            self.decide("proposed", APPROVE)
            if not self.think(2, 5):
                return
            self.decide("approved", ISSUE)
            if self.rng.random() < 0.2:
                self.expect(self.request("queue", "GET", "/commitments"), "queue", 200)
            if not self.think(3, 8):
                return

    def decide(self, status: str, pattern: re.Pattern) -> None:
        page = self.request("review", "GET", "/compensations", params={"status": status})
        if not self.expect(page, "review", 200):
            return
        ids = [int(i) for i in pattern.findall(page.text)]
        if not ids or not self.think(1, 4):  # reading the case
            return
        compensation_id = self.rng.choice(ids[:10])
        if status == "approved":
            action, data = "issue", {}
        elif self.rng.random() < 0.1:
            action, data = "reject", {"reason": "Fuera de política (soak)."}
        else:
            action, data = "approve", {"note": "Aprobada en la prueba de carga."}
        data.update(csrf_token=self.csrf, next=f"/compensations?status={status}")
        response = self.request(action, "POST", f"/compensations/{compensation_id}/{action}", data=data)
        if response is None or response.status_code >= 500:
            self.recorder.decision(compensation_id, action, self.email, "uncertain")
            return
        if not self.expect(response, action, 302):
            return
        location = response.headers["location"]
        if not location.startswith("/compensations"):  # the fresh-login page, say
            self.recorder.error(action, "unexpected", f"redirected to {location}")
            return
        after = self.request("review", "GET", location)
        if not self.expect(after, "review", 200):
            self.recorder.decision(compensation_id, action, self.email, "uncertain")
            return
        flashes = FLASH.findall(after.text)
        if "success" in flashes:
            self.recorder.decision(compensation_id, action, self.email, "confirmed")
        elif "error" in flashes:
            with self.recorder.lock:
                self.recorder.conflicts += 1
        else:
            self.recorder.decision(compensation_id, action, self.email, "uncertain")


class HealthProbe(Browser):
    """The trivial route on the same server, the yardstick for the pages' times."""

    def work(self) -> None:
        while not self.stop.wait(0.25):
            self.request("healthz", "GET", "/healthz")

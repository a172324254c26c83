"""The soak: a bounded load run, with faults, against a real gunicorn and scheduler on 127.0.0.1.

    .venv/bin/python -m bench.soak                       the full run (`make soak`): both engines,
                                                         5 minutes each, 50 agents, 5 supervisors, faults
    .venv/bin/python -m bench.soak --short               the CI run: 30 s per engine (after a 15 s warm-up),
                                                         16 agents, 2 supervisors, think times halved
    .venv/bin/python -m bench.soak --help                every knob (also as SOAK_* environment variables)

Each engine gets a fresh database (a SQLite file, or a new PostgreSQL database on
127.0.0.1:5432) seeded with the demo business plus a few thousand customers, then
gunicorn (4 workers) and `flask --app wsgi crm scheduler` start against it with an
SMTP sink on loopback. Simulated agents search, open customers and log contacts
through the real pages (session login, CSRF tokens, htmx fragments), supervisors
approve and issue compensations; every request is timed. Faults (on by default) kill
a web worker and the scheduler, restart PostgreSQL (or cut all the app's connections
to it), and stop the SMTP server for a while.

The run passes (exit code 0) when, per engine: no 5xx outside a database fault's
window, no transport error outside a worker kill's or database fault's window, no
"database is locked" in any log, p95 ≤ 150 ms for every page (requests that started
while a fault was being recovered from are shown but not judged), the load generator's
ledger of what it created and decided matches the database exactly (nothing lost,
nothing doubled, no decision confirmed to two supervisors), at most one compensation
per commitment, every email marked sent reached the SMTP server and none arrived
twice beyond the outbox's documented at-least-once window, and every fault was
recovered from without help (the scheduler is restarted by the harness, as systemd
would).
"""

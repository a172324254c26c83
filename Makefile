# Fideliza: `make run` starts the app with demo data, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := CRM_ENV=development $(BIN)/flask --app wsgi

.PHONY: run test install translations chromium bench soak extract-messages clean security

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed translations

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d crm/translations

chromium:
	@scripts/ensure-chromium.sh
	@scripts/ensure-axe.sh

run: install
	$(FLASK) db upgrade
	@if $(FLASK) crm is-empty; then $(FLASK) crm seed-demo; fi
	@echo
	@echo "Fideliza on http://127.0.0.1:5000 — demo logins (password: demo):"
	@echo "  admin@demo.local  supervisor@demo.local  agent@demo.local"
	@echo "Ctrl-C stops it."
	@echo
	@scripts/run.sh

test: install chromium
	@scripts/test.sh

bench: install
	$(BIN)/python -m bench.run

# Load, soak and faults on 127.0.0.1: SQLite, then PostgreSQL (127.0.0.1:5432), 5 minutes each.
# SOAK_ARGS="--short" is the CI version; `$(BIN)/python -m bench.soak --help` lists the knobs.
soak: install
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# sqlmap, wapiti and schemathesis against a local server with demo data (minutes; not in CI).
security: install
	@scripts/ensure-security-tools.sh
	@scripts/security.sh

# After changing user-facing strings: extract them and update both catalogs.
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _l --project=Fideliza -o crm/translations/messages.pot .
	$(BIN)/pybabel update -i crm/translations/messages.pot -d crm/translations --no-fuzzy-matching --width 100
	$(BIN)/python scripts/fill_en_catalog.py

clean:
	rm -rf $(VENV) instance .pytest_cache

# Gatehouse — the two commands of the README work from a fresh clone:
#   make run    create .venv if missing, install, open the console in demo mode
#   make test   install the test extra if missing, run lint + the whole suite offscreen

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: run test lint unit clean-venv bench package package-deps deb-test installer-windows \
        package-clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Gatehouse needs Python >= 3.11 (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(TSTAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

PSTAMP := $(VENV)/.installed-package
$(PSTAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[package]'
	@touch $@

run: $(STAMP)
	$(BIN)/gatehouse --demo

lint: $(TSTAMP)
	$(BIN)/ruff check app ui tests
	$(BIN)/lint-imports --no-cache

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest $(PYTEST_ARGS)

unit: $(TSTAMP)
	$(BIN)/pytest tests/unit -q

clean-venv:
	rm -rf $(VENV)

# -- installers (packaging/README.md) ---------------------------------------------------
# Debian tools the installers need (dpkg-deb is in every Debian), debootstrap (deb-test),
# makensis (installer-windows), and what the frozen console needs to start offscreen.
PACKAGE_APT := debootstrap nsis libgl1 libegl1 libfontconfig1 \
               libglib2.0-0 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 \
               libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
NSIS_COMPRESSOR ?= zlib

package-deps:
	@missing=""; for p in $(PACKAGE_APT); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "package-deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Onedir build + smoke test of the frozen app + tarball + .deb, all in dist/.
package: $(PSTAMP) package-deps
	$(BIN)/python packaging/build.py

# The .deb in a clean Debian root (debootstrap, chroot; root needed): slow, not in `test`.
deb-test: package-deps
	@ls dist/gatehouse_$(VERSION)_amd64.deb >/dev/null 2>&1 || $(MAKE) package
	PYTHON=$(BIN)/python bash packaging/linux/deb_test.sh dist/gatehouse_$(VERSION)_amd64.deb

# Compile the NSIS script against the staged (Linux) payload: it compiles, it cannot run.
installer-windows: package-deps
	@test -x dist/gatehouse/gatehouse || $(MAKE) package
	makensis -V2 -DVERSION=$(VERSION) \
	  -DVERSION4=$$($(BIN)/python -c 'import sys; sys.path.insert(0, "packaging"); import build; print(build.windows_version("$(VERSION)"))') \
	  -DPAYLOAD=$(CURDIR)/dist/gatehouse -DOUTDIR=$(CURDIR)/dist \
	  -DICON=$(CURDIR)/build/gen/gatehouse.ico -DCOMPRESSOR=$(NSIS_COMPRESSOR) \
	  packaging/windows/gatehouse.nsi
	@ls -l dist/gatehouse-$(VERSION)-setup.exe

package-clean:
	rm -rf dist build/pyinstaller build/deb build/gen build/deb-test/root

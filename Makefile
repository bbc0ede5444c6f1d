# rtchub — build, test and packaging targets (GNU make).
#
#   make run            build, then bin/rtchub serve (no config needed)
#   make build          bin/rtchub for this machine
#   make test           go vet + go test -race (the test command)
#   make fuzz-short     every Fuzz* target for FUZZTIME (default 15s) each
#   make e2e            bash e2e/run.sh
#   make bench          go benchmarks
#   make bench-hub      rtchub bench scenarios against a fresh built hub (~4 min)
#   make soak           DURATION=2m (default): 1,000 streams that acknowledge and
#                       reconnect, 50 notifies/s, the hub sampled every minute
#   make dist           static stripped linux binaries + SHA256SUMS in dist/
#   make dist-check     dist + run arm64/armv7/armv6 under qemu-user, size limit
#   make deb            dist + dist/rtchub_$(VERSION)_{amd64,arm64,armhf}.deb (dpkg-deb)
#   make deb-check      deb + lintian on each .deb + rebuild and cmp (reproducible)
#   make install        PREFIX=/usr/local DESTDIR= : binary + systemd unit
#   make systemd-check  systemd-analyze verify/security + seccomp syscall check
#   make systemd-boot-check  deb + boot Debian 12 in systemd-nspawn, apt-install
#                       the amd64 .deb, check the service for real (root)
#   make measure-start  ready time and idle RSS of the dist binary (node)
#   make clean

SHELL := /bin/bash
.DEFAULT_GOAL := build

GO       ?= go
# A Debian-valid version that sorts by commit time (scripts/version.sh);
# VERSION=... overrides it. SOURCE_DATE_EPOCH (the commit time) dates every
# file in the .deb packages.
ifeq ($(origin VERSION),undefined)
VERSION  := $(shell bash scripts/version.sh 2>/dev/null || echo 0~dev)
endif
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
endif
# rtchub serves HTTP/1.1 only: leave net/http's HTTP/2 out of the binaries.
# The release binaries (dist, deb) also leave out --pprof and rtchub bench
# (RELEASE_TAGS in scripts/lib.sh); make build keeps them.
GOTAGS   ?= nethttpomithttp2
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 15s
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   := $(PREFIX)/bin
UNITDIR  ?= /etc/systemd/system

export VERSION GO SOURCE_DATE_EPOCH

.PHONY: all run build test vet fuzz-short e2e bench bench-hub soak dist dist-check deb deb-check \
	install uninstall systemd-check systemd-boot-check measure-start clean help

all: build

help:
	@sed -n '3,22p' Makefile

# Built first, then run in the foreground: Ctrl-C reaches the hub itself,
# which stops cleanly (exit 0).
run: build
	./bin/rtchub serve

build:
	$(GO) build -trimpath -tags "$(GOTAGS)" -ldflags "$(LDFLAGS)" -o bin/rtchub .

# Built on demand when `make install` runs without a prior `make build`.
bin/rtchub:
	$(MAKE) build

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race ./...

fuzz-short:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz-short.sh

e2e:
	@test -f e2e/run.sh || { echo "e2e/run.sh is missing" >&2; exit 1; }
	bash e2e/run.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

bench-hub:
	bash scripts/bench-scenarios.sh

# DURATION=1h for the README's table; CI runs the default 2m.
soak:
	bash scripts/soak.sh

dist:
	bash scripts/dist.sh

dist-check: dist
	bash scripts/qemu-check.sh

deb: dist
	bash scripts/deb.sh

deb-check: deb
	bash scripts/deb-check.sh

install: bin/rtchub
	install -d -m 0755 "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(UNITDIR)"
	install -m 0755 bin/rtchub "$(DESTDIR)$(BINDIR)/rtchub"
	sed 's|/usr/local/bin/rtchub|$(BINDIR)/rtchub|g' rtchub.service > "$(DESTDIR)$(UNITDIR)/rtchub.service.tmp"
	chmod 0644 "$(DESTDIR)$(UNITDIR)/rtchub.service.tmp"
	mv -f "$(DESTDIR)$(UNITDIR)/rtchub.service.tmp" "$(DESTDIR)$(UNITDIR)/rtchub.service"
	@echo "installed $(DESTDIR)$(BINDIR)/rtchub and $(DESTDIR)$(UNITDIR)/rtchub.service"
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		echo "next: systemctl daemon-reload && systemctl enable --now rtchub"; fi

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/rtchub" "$(DESTDIR)$(UNITDIR)/rtchub.service"

systemd-check: build
	bash scripts/systemd-check.sh bin/rtchub

systemd-boot-check: deb
	bash scripts/systemd-boot-check.sh

# The release binary of this machine's arch (static, as shipped; bin/rtchub
# may be a cgo build with more RSS). amd64 and arm64 hosts.
measure-start: dist
	node scripts/measure-start.mjs dist/rtchub-linux-$$($(GO) env GOARCH)

clean:
	rm -rf bin/ dist/

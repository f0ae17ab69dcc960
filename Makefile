# ds: a toolkit for building distributed systems out of Unix programs.
# One Makefile, no configure.  See README.md.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANPREFIX ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
CPPFLAGS_DS = -std=c99 -D_POSIX_C_SOURCE=200809L
ALL_CFLAGS = $(CPPFLAGS_DS) $(WARN) $(CFLAGS) $(CPPFLAGS)
LDFLAGS ?=
LDLIBS ?=

# Objects and programs go under O, so that a sanitizer build can sit
# beside the normal one: make O=build/asan CFLAGS='-O1 -g -fsanitize=...'
O ?= build

LIB_MODS = err num buf io addr proto ident child svc fmt rec hmac net loop auth runner client relay hub swim udp seal peer ctlsrv hook pool jobmap super
LIB_SRC = $(LIB_MODS:%=lib/%.c)
LIB_HDR = $(LIB_MODS:%=lib/%.h)
LIB_OBJ = $(LIB_MODS:%=$(O)/lib/%.o)
PROGS = dssend dsrecv dsd dsctl dspeer
BINS = $(PROGS:%=$(O)/bin/%)
MAN1 = $(PROGS:%=man/%.1)
MAN7 = man/dsproto.7
UNIT_SRC = $(wildcard tests/unit/test_*.c)

SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer,address,undefined
SECONDS ?= 60

all: $(BINS)

# The compiler and flags a tree was built with: when they change (another
# CC, a sanitizer build into the same O), everything is built again rather
# than mixed with objects made the other way.
FLAGS_NOW = $(CC) $(ALL_CFLAGS) $(LDFLAGS) $(LDLIBS)
$(O)/.flags: FORCE
	@mkdir -p $(O)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@

$(O)/lib/%.o: lib/%.c $(LIB_HDR) $(O)/.flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/lib/libds.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(O)/bin/%: bin/%.c $(O)/lib/libds.a $(LIB_HDR) $(O)/.flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(O)/lib/libds.a $(LDLIBS)

$(O)/tests/unit: $(UNIT_SRC) tests/unit/unit.h $(O)/lib/libds.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(UNIT_SRC) $(O)/lib/libds.a $(LDLIBS)

# The whole test suite: see tests/README.md for what each step covers.
# It ends with the line "N passed, N failed".
check: all $(O)/tests/unit
	@MAKE='$(MAKE)' SAN_FLAGS='$(SAN_FLAGS)' sh tests/check.sh

unit: $(O)/tests/unit
	$(O)/tests/unit

lint:
	mandoc -T lint -W warning $(MAN1) $(MAN7)

# make fuzz [FUZZ=proto|hub|swim] [SECONDS=n].  New inputs go to
# build/fuzz/FUZZ-corpus; the seeds in tests/fuzz stay as they are, and a
# crash is saved under build/fuzz/.
FUZZ ?= proto
FUZZ_SEEDS_proto = tests/fuzz/corpus
FUZZ_SEEDS_hub = tests/fuzz/hub-corpus
FUZZ_SEEDS_swim = tests/fuzz/swim-corpus
fuzz:
	@mkdir -p build/fuzz/$(FUZZ)-corpus
	clang $(CPPFLAGS_DS) $(WARN) $(FUZZ_FLAGS) -o build/fuzz/fuzz_$(FUZZ) tests/fuzz/fuzz_$(FUZZ).c $(LIB_SRC)
	build/fuzz/fuzz_$(FUZZ) -max_total_time=$(SECONDS) -max_len=8192 -artifact_prefix=build/fuzz/ build/fuzz/$(FUZZ)-corpus $(FUZZ_SEEDS_$(FUZZ))

bench: all
	sh bench/framers.sh
	sh bench/hub.sh
	sh bench/peer.sh
	sh bench/peer-rss.sh
	sh bench/jobs.sh

demo: all
	sh examples/demo.sh

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANPREFIX)/man1 $(DESTDIR)$(MANPREFIX)/man7
	for p in $(PROGS); do cp -f $(O)/bin/$$p $(DESTDIR)$(BINDIR)/$$p; chmod 755 $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MAN1); do cp -f $$m $(DESTDIR)$(MANPREFIX)/man1/; done
	cp -f $(MAN7) $(DESTDIR)$(MANPREFIX)/man7/

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MAN1); do rm -f $(DESTDIR)$(MANPREFIX)/man1/$${m#man/}; done
	rm -f $(DESTDIR)$(MANPREFIX)/man7/dsproto.7

clean:
	rm -rf build

.PHONY: all check unit lint fuzz bench demo install uninstall clean FORCE
FORCE:

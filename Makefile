# SPDX-License-Identifier: GPL-2.0
#
# stap-gen: SystemTap-style scripts as kernel modules built by the tree's
# own kbuild.  See README.md; inside a kernel tree the same targets come
# from scripts/stap/ (make stap SCRIPT=foo.stp).
#
#   make demo                 build the default test kernel if needed, run
#                             tools/stap-gen/examples/opensnoop.stp on it in QEMU
#   make check                the whole test suite (what CI runs)
#   make stap SCRIPT=foo.stp  build foo.ko against KDIR (RUN=vm: run it)
#   make trees                build (or find cached) the 6.1 and 6.12 test trees

STAPGEN := tools/stap-gen/stap-gen
PY      := scripts/stap/python
DEMO_LINE ?= 6.12
DEMO_WORKLOAD ?= for i in $$(seq 20); do cat /proc/version >/dev/null; ls / >/dev/null; done

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all setup trees demo check test-unit stap help

all: help

help:
	@sed -n '3,12p' Makefile | sed 's/^# \{0,1\}//'

setup:
	$(Q)scripts/stap/setup

trees: setup
	$(Q)$(PY) -m stapgen.dev.testtree

demo: setup
	$(Q)$(PY) -m stapgen.dev.testtree $(DEMO_LINE)
	$(Q)kdir=$$($(PY) -m stapgen.dev.testtree --print-kdir $(DEMO_LINE)) && \
	echo "\$$ $(STAPGEN) -r $$kdir --vm -c \\" && \
	echo '    "$(DEMO_WORKLOAD)" tools/stap-gen/examples/opensnoop.stp' && \
	$(STAPGEN) -r "$$kdir" --vm -c '$(DEMO_WORKLOAD)' tools/stap-gen/examples/opensnoop.stp

check: trees
	$(Q)$(PY) -m pytest -q --durations=12 tests

# Unit tests only: no kernel builds, no QEMU.
test-unit: setup
	$(Q)$(PY) -m pytest -q -m 'not kernel' tests

# make stap SCRIPT=foo.stp [ARGS='...'] [KDIR=...] [RUN=vm|1] [MODNAME=...]: foo.ko
stap:
ifeq ($(SCRIPT),)
	$(error usage: make stap SCRIPT=foo.stp [ARGS='...'] [KDIR=kernel build tree] [RUN=vm|1] [MODNAME=module])
endif
	$(Q)$(STAPGEN) $(if $(KDIR),-r $(KDIR)) \
		-m $(or $(MODNAME),$(subst -,_,$(subst .,_,$(basename $(notdir $(SCRIPT)))))) \
		$(if $(filter vm,$(RUN)),--vm,$(if $(RUN),-p5,-p4)) $(if $(V:0=),-v) $(SCRIPT) $(ARGS)

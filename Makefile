# Thin wrapper over CMake. The two commands of the README:
#   make demo   install what is missing, build, create a lab PKI, run sipsd in the foreground
#   make test   install what tests need, build with -Werror, run every test (ctest summary last)
BUILD   ?= build
COMPILER ?= clang
JOBS    ?= $(shell nproc)
FUZZ_SECONDS ?= 30

# Debian packages: building, testing (cmocka, pytest, libFuzzer), and the demo.
PKGS_BUILD = build-essential cmake pkg-config clang libssl-dev libevent-dev libinih-dev libsqlite3-dev openssl libgoogle-perftools-dev
PKGS_TEST  = libcmocka-dev libfuzzer-14-dev libclang-rt-14-dev python3 python3-pytest procps iproute2 util-linux strace kamailio kamailio-tls-modules kamailio-sqlite-modules sip-tester
PKGS_BENCH = libosip2-dev libgnutls28-dev libwolfssl-dev kamailio kamailio-tls-modules kamailio-sqlite-modules sqlite3 iproute2 util-linux

.PHONY: all build demo test fuzz bench deps-build deps-test deps-bench clean

all: build

deps-build:
	@./tools/install-deps.sh $(PKGS_BUILD)
deps-test: deps-build
	@./tools/install-deps.sh $(PKGS_TEST)
deps-bench: deps-build
	@./tools/install-deps.sh $(PKGS_BENCH)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(COMPILER) -DSIPSD_WERROR=ON -DSIPSD_FUZZ_SECONDS=$(FUZZ_SECONDS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps-build
	@$(MAKE) --no-print-directory build
	@./tools/demo.sh $(BUILD)

test: deps-test
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=$(COMPILER) -DSIPSD_WERROR=ON -DSIPSD_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz: deps-test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && FUZZ_SECONDS=600 ctest --output-on-failure -L fuzz

bench: deps-bench
	@$(MAKE) --no-print-directory build
	@./bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)

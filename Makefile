# Benchmark figures come from release builds. See docs/benchmarks.md.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/parley-target

.PHONY: bench test

bench:
	cargo build --release -p parley-server -p parley-bench
	$(CARGO_TARGET_DIR)/release/parley-bench all --chart docs/fanout.svg | tee docs/bench-results.txt

test:
	./scripts/test.sh

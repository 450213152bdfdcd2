# Benchmark figures come from release builds. See docs/benchmarks.md.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/parley-target

.PHONY: bench test measure-app deb

bench:
	cargo build --release -p parley-server -p parley-bench
	$(CARGO_TARGET_DIR)/release/parley-bench all --chart docs/fanout.svg | tee docs/bench-results.txt

test:
	./scripts/test.sh

# The desktop app's memory and cold start (docs/benchmarks.md, "Desktop app").
measure-app:
	./scripts/measure-app.sh | tee docs/app-measure.txt

# The desktop app's .deb, with the bundled server.
deb:
	./scripts/package.sh

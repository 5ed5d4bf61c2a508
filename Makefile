# The two set-up commands of the README: `make example` and `make test`.
# Both install the guest toolchain when missing (see scripts/build-guests.sh).
.PHONY: guests example test bench bench-peer bench-api

guests:
	scripts/build-guests.sh

example: guests
	cargo build --release --locked -p stepwasm
	scripts/run-example.sh

# The end-to-end API and console tests' tools (Chromium; boto3 and the AWS CLI
# in target/pyenv), installed when missing by scripts/test-tools.sh; the Python
# handlers (componentize-py into target/pyguest when missing; rebuilt only when
# their sources change) by scripts/build-python-examples.sh; the JavaScript
# handlers likewise (componentize-js and esbuild from npm into target/jsguest)
# by scripts/build-js-examples.sh; then the
# host workspace: its crates' dependency edges (scripts/check-layers.sh),
# formatting and clippy (warnings are errors), then its
# unit, end-to-end and doc tests, then the example modules'
# own unit tests, compiled natively. The benchmark links those crates natively (its
# baseline), so `-p` runs their tests in the workspace's build, sharing
# every dependency already compiled (the test modules hostile, hostile-nostd and probe have
# no unit tests of their own).
test: guests
	scripts/test-tools.sh
	scripts/build-python-examples.sh
	scripts/build-js-examples.sh
	scripts/check-layers.sh
	cargo fmt --all --check
	cargo clippy --release --locked --workspace --all-targets -- -D warnings
	cargo test --release --locked --workspace
	cargo test --release --locked -p payment -p inventory -p notify -p echo

bench: guests
	cargo run --release --locked -p stepwasm-bench --

# The peer workflow (examples/peer/), with its Task and Pass-only, each beside
# aws-local-stepfunctions in the same run (installed into target/als from npm).
bench-peer: guests
	scripts/install-als.sh
	cargo build --release --locked -p stepwasm-bench
	for definition in peer peer-pass; do \
	  target/release/stepwasm-bench --definition examples/peer/$$definition.asl.json \
	    --config examples/peer/stepwasm.toml --inputs examples/peer/inputs --compare-als --seconds 3 || exit 1; \
	done

# The peer workflow through `stepwasm serve`'s HTTP API (StartSyncExecution,
# StartExecution), beside the same workflow in process, in the same run.
bench-api: guests
	cargo build --release --locked -p stepwasm-bench -p stepwasm
	target/release/stepwasm-bench --api --definition examples/peer/peer.asl.json \
	  --config examples/peer/stepwasm.toml --inputs examples/peer/inputs --seconds 3

# The two set-up commands of the README: `make example` and `make test`.
# Both install the guest toolchain when missing (see scripts/build-guests.sh).
.PHONY: guests example test bench

guests:
	scripts/build-guests.sh

example: guests
	cargo build --release --locked -p stepwasm
	scripts/run-example.sh

# The end-to-end API and console tests' tools (Chromium; boto3 and the AWS CLI
# in target/pyenv), installed when missing by scripts/test-tools.sh; then the
# host workspace: formatting and clippy (warnings are errors), then its
# unit, end-to-end and doc tests, then the example modules'
# own unit tests, compiled natively. The host links those crates natively (the
# benchmark's baseline), so `-p` runs their tests in the host's build, sharing
# every dependency already compiled (the test modules hostile, hostile-nostd and probe have
# no unit tests of their own).
test: guests
	scripts/test-tools.sh
	cargo fmt --all --check
	cargo clippy --release --locked --workspace --all-targets -- -D warnings
	cargo test --release --locked --workspace
	cargo test --release --locked -p payment -p inventory -p notify

bench: guests
	cargo run --release --locked -p stepwasm -- bench

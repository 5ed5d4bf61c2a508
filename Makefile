# The two set-up commands of the README: `make example` and `make test`.
# Both install the guest toolchain when missing (see scripts/build-guests.sh).
.PHONY: guests example test bench

guests:
	scripts/build-guests.sh

example: guests
	cargo build --release --locked -p stepwasm
	scripts/run-example.sh

# Host workspace (unit, end-to-end and doc tests), then the guest modules'
# own unit tests, compiled natively. They need a target dir of their own: the
# module crates are cdylibs, whose rlibs carry no hash in their file names, so
# a build from the modules workspace would overwrite the ones the host links.
test: guests
	cargo test --release --locked --workspace
	cargo test --release --locked --manifest-path modules/Cargo.toml --target-dir target/guest-native

bench: guests
	cargo run --release --locked -p stepwasm -- bench

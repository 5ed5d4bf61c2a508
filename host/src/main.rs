//! The `stepwasm` binary: see [`stepwasm::cli`].

fn main() -> std::process::ExitCode {
    stepwasm::cli::main()
}

//! The `stepwasm` binary: see [`stepwasm::cli`].

// An execution allocates and frees many small JSON values; mimalloc does that
// markedly faster than glibc's malloc (see the README's benchmark notes).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    stepwasm::cli::main()
}

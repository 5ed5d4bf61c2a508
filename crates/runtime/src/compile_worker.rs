//! Compiling untrusted (uploaded) components in a separate, limited process.
//!
//! Compiling a component runs the whole of cranelift over bytes a caller
//! chose; a few hundred KB can cost minutes of a core or gigabytes of memory.
//! So the host never does it itself: after the structural pre-check
//! ([`super::precheck`]) it starts the stepwasm binary again as
//! `stepwasm __compile-worker`, which reads the component on stdin, compiles
//! it with the host's compilation settings (`Engine::precompile_component`)
//! and writes the artefact to stdout. The worker runs under
//! - `RLIMIT_AS` ([`WorkerLimits::memory_bytes`], default 2 GiB),
//!   `RLIMIT_CPU` (default 30 s), no core file, no file writes, and dies
//!   with its parent (`PR_SET_PDEATHSIG`);
//! - a wall-clock deadline the host enforces (default 60 s: it kills and
//!   reaps the worker), and a cap on the artefact it reads (256 MiB);
//! - a cap on concurrent compilations ([`WorkerLimits::max_concurrent`], half
//!   the cores, at least 1); a compile that finds them all busy waits at most
//!   [`WorkerLimits::queue_wait`] (30 s), and at most [`MAX_WAITING`] wait.
//!
//! The host then loads the artefact (`Component::deserialize`): only bytes
//! its own worker produced, framed by [`MAGIC`], never precompiled bytes a
//! caller sent (an upload that is a precompiled artefact is not a component
//! and fails the pre-check).
//!
//! The worker program is `$STEPWASM_COMPILE_WORKER` when set, else one set
//! with [`set_worker_program`], else the running executable when it is the
//! stepwasm binary (see [`mark_binary_as_worker`]); a library user (a test
//! harness) without any is refused: untrusted bytes are never compiled
//! in-process.
//!
//! For tests, the environment variables `STEPWASM_COMPILE_MEMORY_BYTES`,
//! `STEPWASM_COMPILE_CPU_SECONDS` and `STEPWASM_COMPILE_DEADLINE_MS` lower
//! the limits (they cannot raise them).

use super::precheck::PrecheckError;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The hidden subcommand that runs the worker.
pub const SUBCOMMAND: &str = "__compile-worker";
/// What a worker's stdout starts with, before the artefact: anything else
/// (another program's output) is not loaded.
pub const MAGIC: &[u8] = b"stepwasm-compile-worker/1\n";
/// Compiles that may wait for a free slot at once; more are refused at once.
pub const MAX_WAITING: usize = 8;
/// The most of the worker's stderr kept to quote (its end).
const STDERR_KEPT: usize = 4096;
/// The most component bytes the worker reads from stdin.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// The worker's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Address space (`RLIMIT_AS`): cranelift on the real guests stays well
    /// under 200 MiB; the binary and allocator reserve some more.
    pub memory_bytes: u64,
    /// CPU time (`RLIMIT_CPU`), in seconds.
    pub cpu_seconds: u64,
    /// Wall-clock time, after which the host kills the worker.
    pub deadline: Duration,
    /// The largest artefact the host reads.
    pub max_artefact_bytes: usize,
    /// Compilations at once, in this process.
    pub max_concurrent: usize,
    /// How long a compile waits for a free slot before it is refused.
    pub queue_wait: Duration,
}

impl Default for WorkerLimits {
    fn default() -> WorkerLimits {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        WorkerLimits {
            memory_bytes: 2 << 30,
            cpu_seconds: 30,
            deadline: Duration::from_secs(60),
            max_artefact_bytes: 256 << 20,
            max_concurrent: (cores / 2).max(1),
            queue_wait: Duration::from_secs(30),
        }
    }
}

impl WorkerLimits {
    /// The defaults, lowered by the test variables (see the module doc).
    pub fn from_env() -> WorkerLimits {
        let mut limits = WorkerLimits::default();
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok()).filter(|v| *v > 0);
        if let Some(v) = var("STEPWASM_COMPILE_MEMORY_BYTES") {
            limits.memory_bytes = limits.memory_bytes.min(v);
        }
        if let Some(v) = var("STEPWASM_COMPILE_CPU_SECONDS") {
            limits.cpu_seconds = limits.cpu_seconds.min(v);
        }
        if let Some(v) = var("STEPWASM_COMPILE_DEADLINE_MS") {
            limits.deadline = limits.deadline.min(Duration::from_millis(v));
        }
        limits
    }
}

/// Why an untrusted component was not compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("refused before compiling: {0}")]
    Precheck(#[from] PrecheckError),
    #[error("untrusted modules are compiled only in a separate worker process, and none can be started: {0}")]
    NoWorker(String),
    #[error(
        "{running} module(s) are being compiled already (the cap) and {waiting} wait; waited {waited_ms} ms for a turn: try again later"
    )]
    Busy { running: usize, waiting: usize, waited_ms: u128 },
    #[error("compiling the module took more than {} s (the compile worker was stopped)", .0.as_secs_f64())]
    Deadline(Duration),
    #[error("compiling the module used more than {0} s of CPU time (the compile worker was stopped)")]
    CpuTime(u64),
    #[error("compiling the module used more than {} MiB of memory (the compile worker was stopped)", .0 >> 20)]
    Memory(u64),
    #[error("the compiled module is larger than {} MiB", .0 >> 20)]
    TooLarge(usize),
    #[error("the compile worker failed ({status}){}", quoted(.stderr))]
    Crashed { status: String, stderr: String },
    /// The compiler's own refusal (not a valid component): its message.
    #[error("{0}")]
    Invalid(String),
}

fn quoted(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", stderr.trim())
    }
}

/// Set by the stepwasm binary's `main`: the running executable can be the worker.
static IS_WORKER_BINARY: AtomicBool = AtomicBool::new(false);

/// Declares that the running executable is the stepwasm binary (so it can
/// start itself as the worker). Called by the host's `cli::main`.
pub fn mark_binary_as_worker() {
    IS_WORKER_BINARY.store(true, Ordering::Relaxed);
}

/// A worker program set by [`set_worker_program`].
static WORKER_PROGRAM: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Runs `program` (the stepwasm binary) as the worker from now on, unless
/// `$STEPWASM_COMPILE_WORKER` names one: for library users such as tests
/// (whose executable is a test harness).
pub fn set_worker_program(program: impl Into<PathBuf>) {
    *WORKER_PROGRAM.lock().unwrap_or_else(|e| e.into_inner()) = Some(program.into());
}

/// The program to run as the worker.
fn worker_program() -> Result<PathBuf, CompileError> {
    if let Some(path) = std::env::var_os("STEPWASM_COMPILE_WORKER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = WORKER_PROGRAM.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        return Ok(path);
    }
    if IS_WORKER_BINARY.load(Ordering::Relaxed) {
        return std::env::current_exe().map_err(|e| CompileError::NoWorker(format!("cannot find the running executable: {e}")));
    }
    Err(CompileError::NoWorker("this program is not the stepwasm binary; set STEPWASM_COMPILE_WORKER to its path".into()))
}

/// Slots for concurrent compilations.
struct Gate {
    state: Mutex<(usize, usize)>,
    freed: Condvar,
}

/// A held slot; dropping it frees the slot.
struct Slot<'a>(&'a Gate);

impl Gate {
    const fn new() -> Gate {
        Gate { state: Mutex::new((0, 0)), freed: Condvar::new() }
    }

    fn enter(&self, max: usize, wait: Duration) -> Result<Slot<'_>, CompileError> {
        let started = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 >= max {
            if state.1 >= MAX_WAITING {
                return Err(CompileError::Busy { running: state.0, waiting: state.1, waited_ms: 0 });
            }
            state.1 += 1;
            while state.0 >= max {
                let left = wait.saturating_sub(started.elapsed());
                if left.is_zero() {
                    state.1 -= 1;
                    return Err(CompileError::Busy { running: state.0, waiting: state.1, waited_ms: started.elapsed().as_millis() });
                }
                state = self.freed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
            }
            state.1 -= 1;
        }
        state.0 += 1;
        Ok(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        self.0.freed.notify_one();
    }
}

static GATE: Gate = Gate::new();

/// The limits in force for this process (read once).
pub fn limits() -> &'static WorkerLimits {
    static LIMITS: OnceLock<WorkerLimits> = OnceLock::new();
    LIMITS.get_or_init(WorkerLimits::from_env)
}

/// Compiles `bytes` in a worker under `limits` (no pre-check: the caller
/// runs [`super::precheck`] first); the artefact, for `Component::deserialize`
/// on an engine with the host's settings.
pub fn compile_in_worker(bytes: &[u8], limits: &WorkerLimits) -> Result<Vec<u8>, CompileError> {
    let program = worker_program()?;
    let _slot = GATE.enter(limits.max_concurrent, limits.queue_wait)?;
    let mut child = spawn(&program, limits).map_err(|e| CompileError::NoWorker(format!("cannot start {}: {e}", program.display())))?;
    let outcome = supervise(&mut child, bytes, limits);
    // Whatever happened, the worker is gone and reaped before we return.
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

fn spawn(program: &std::path::Path, limits: &WorkerLimits) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command.arg(SUBCOMMAND).env_clear().current_dir("/").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let (memory, cpu) = (limits.memory_bytes, limits.cpu_seconds);
        // SAFETY: between fork and exec the closure only calls setrlimit and
        // prctl, which are async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(move || limit_this_process(memory, cpu));
        }
    }
    #[cfg(not(unix))]
    {
        let _ = limits;
        return Err(std::io::Error::other("resource limits need a Unix system"));
    }
    command.spawn()
}

/// The worker's rlimits, set in the child before exec.
#[cfg(unix)]
fn limit_this_process(memory_bytes: u64, cpu_seconds: u64) -> std::io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    type Resource = libc::__rlimit_resource_t;
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    type Resource = libc::c_int;
    fn set(resource: Resource, soft: u64, hard: u64) -> std::io::Result<()> {
        let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
        // SAFETY: a plain system call on a valid struct.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    set(libc::RLIMIT_AS, memory_bytes, memory_bytes)?;
    // SIGXCPU at the soft limit, SIGKILL a second later.
    set(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)?;
    set(libc::RLIMIT_CORE, 0, 0)?;
    // Stdout is a pipe, which this does not limit; no file can be written.
    set(libc::RLIMIT_FSIZE, 0, 0)?;
    // SAFETY: a plain system call; the worker dies with the thread that started it.
    #[cfg(target_os = "linux")]
    let _ = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    Ok(())
}

/// Feeds the worker, collects what it says, enforces the deadline and the
/// artefact cap; the artefact or why there is none. The caller reaps it.
fn supervise(child: &mut Child, bytes: &[u8], limits: &WorkerLimits) -> Result<Vec<u8>, CompileError> {
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
        return Err(CompileError::NoWorker("its pipes could not be set up".into()));
    };
    let over_cap = Arc::new(AtomicBool::new(false));
    let read_cap = (MAGIC.len() + limits.max_artefact_bytes) as u64;
    let started = Instant::now();
    let (status, artefact, said) = std::thread::scope(|scope| {
        // A failed write means the worker ended early: its status says why.
        scope.spawn(move || {
            let _ = stdin.write_all(bytes);
        });
        let flag = Arc::clone(&over_cap);
        let output = scope.spawn(move || {
            let mut artefact = Vec::new();
            let _ = stdout.take(read_cap + 1).read_to_end(&mut artefact);
            if artefact.len() as u64 > read_cap {
                flag.store(true, Ordering::Relaxed);
                artefact.clear();
            }
            artefact
        });
        let errors = scope.spawn(move || tail(stderr));
        let status = wait_until(child, started + limits.deadline, &over_cap);
        if status.is_none() {
            // Killing closes the pipes, so the readers end.
            let _ = child.kill();
        }
        (status, output.join().unwrap_or_default(), errors.join().unwrap_or_default())
    });
    let Some(status) = status else {
        return Err(if over_cap.load(Ordering::Relaxed) {
            CompileError::TooLarge(limits.max_artefact_bytes)
        } else {
            CompileError::Deadline(limits.deadline)
        });
    };
    if over_cap.load(Ordering::Relaxed) {
        return Err(CompileError::TooLarge(limits.max_artefact_bytes));
    }
    match status.code() {
        Some(0) => match artefact.strip_prefix(MAGIC) {
            Some(compiled) => Ok(compiled.to_vec()),
            None => Err(CompileError::NoWorker(
                "the worker program answered without the compile worker's header (is it the stepwasm binary?)".into(),
            )),
        },
        Some(_) if out_of_memory(&said) => Err(CompileError::Memory(limits.memory_bytes)),
        Some(1) if said.starts_with("error: ") => Err(CompileError::Invalid(said.trim_start_matches("error: ").trim().to_string())),
        _ => Err(classify_signal(status, &said, limits)),
    }
}

/// Waits for the worker's end until `deadline` or until its artefact is over
/// the cap; `None` if it is still running then.
fn wait_until(child: &mut Child, deadline: Instant, over_cap: &AtomicBool) -> Option<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        let now = Instant::now();
        if now >= deadline || over_cap.load(Ordering::Relaxed) {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// The last [`STDERR_KEPT`] bytes of `stream`, as text.
fn tail(mut stream: impl Read) -> String {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > 2 * STDERR_KEPT {
                    kept.drain(..kept.len() - STDERR_KEPT);
                }
            }
        }
    }
    if kept.len() > STDERR_KEPT {
        kept.drain(..kept.len() - STDERR_KEPT);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Whether the worker's last words are an allocation failure.
fn out_of_memory(said: &str) -> bool {
    said.contains("memory allocation of")
        || said.contains("os error 12")
        || said.contains("out of memory")
        || said.contains("Cannot allocate memory")
}

/// Why a worker that did not exit normally ended.
fn classify_signal(status: ExitStatus, said: &str, limits: &WorkerLimits) -> CompileError {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal() {
            // SIGKILL is the hard CPU limit (we kill only past the deadline).
            Some(libc::SIGXCPU) | Some(libc::SIGKILL) => return CompileError::CpuTime(limits.cpu_seconds),
            Some(libc::SIGABRT) | Some(libc::SIGSEGV) | Some(libc::SIGBUS) if out_of_memory(said) => {
                return CompileError::Memory(limits.memory_bytes)
            }
            _ => {}
        }
    }
    let _ = limits;
    CompileError::Crashed { status: status.to_string(), stderr: said.to_string() }
}

/// `stepwasm __compile-worker`: reads a component on stdin, writes [`MAGIC`]
/// and its compiled artefact on stdout. Exit 1 with `error: …` on stderr when
/// the component is refused by the compiler.
pub fn worker_main() -> ExitCode {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_INPUT_BYTES).read_to_end(&mut bytes) {
        eprintln!("error: cannot read the component: {e}");
        return ExitCode::from(1);
    }
    let compiled = super::wasm::compile_engine().and_then(|engine| engine.precompile_component(&bytes));
    match compiled {
        Ok(artefact) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(MAGIC).and_then(|()| out.write_all(&artefact)).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_up_to_its_cap_then_waits_a_bounded_time() {
        let gate = Gate::new();
        let first = gate.enter(1, Duration::from_millis(10)).unwrap();
        let started = Instant::now();
        let err = gate.enter(1, Duration::from_millis(50)).err().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(matches!(err, CompileError::Busy { running: 1, waiting: 0, .. }), "{err}");
        assert!(err.to_string().contains("try again later"), "{err}");
        // A slot freed while waiting is taken.
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| gate.enter(1, Duration::from_secs(10)).map(|_| ()));
            std::thread::sleep(Duration::from_millis(50));
            drop(first);
            assert!(waiter.join().unwrap().is_ok());
        });
        let _a = gate.enter(2, Duration::ZERO).unwrap();
        let _b = gate.enter(2, Duration::ZERO).unwrap();
        assert!(gate.enter(2, Duration::ZERO).is_err());
    }

    #[test]
    fn too_many_waiting_are_refused_at_once() {
        let gate = Gate::new();
        let _held = gate.enter(1, Duration::ZERO).unwrap();
        gate.state.lock().unwrap().1 = MAX_WAITING;
        let started = Instant::now();
        assert!(matches!(gate.enter(1, Duration::from_secs(10)), Err(CompileError::Busy { .. })));
        assert!(started.elapsed() < Duration::from_secs(1));
        gate.state.lock().unwrap().1 = 0;
    }

    #[test]
    fn the_test_variables_only_lower_the_limits() {
        let defaults = WorkerLimits::default();
        assert_eq!(defaults.memory_bytes, 2 << 30);
        assert_eq!(defaults.deadline, Duration::from_secs(60));
        assert!(defaults.max_concurrent >= 1);
    }

    #[test]
    fn without_a_worker_program_nothing_is_compiled() {
        if std::env::var_os("STEPWASM_COMPILE_WORKER").is_some() || WORKER_PROGRAM.lock().unwrap().is_some() {
            return;
        }
        let err = compile_in_worker(b"\0asm\x0d\0\x01\0", &WorkerLimits::default()).unwrap_err();
        assert!(matches!(err, CompileError::NoWorker(_)), "{err}");
        assert!(err.to_string().contains("STEPWASM_COMPILE_WORKER"), "{err}");
    }

    #[test]
    fn a_program_that_is_not_the_worker_is_not_trusted() {
        // Both exit 0 without the header (`echo` prints its argument).
        let limits = WorkerLimits::default();
        for program in ["/bin/true", "/bin/echo"] {
            if !std::path::Path::new(program).exists() {
                continue;
            }
            let mut child = spawn(std::path::Path::new(program), &limits).unwrap();
            let err = supervise(&mut child, b"\0asm\x0d\0\x01\0", &limits).unwrap_err();
            let _ = child.wait();
            assert!(matches!(err, CompileError::NoWorker(ref m) if m.contains("header")), "{program}: {err}");
        }
    }

    #[test]
    fn the_deadline_kills_and_reaps() {
        let limits = WorkerLimits { deadline: Duration::from_millis(200), ..WorkerLimits::default() };
        let mut command = Command::new("/bin/sleep");
        command.arg("30").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let Ok(mut child) = command.spawn() else { return };
        let started = Instant::now();
        let err = supervise(&mut child, b"", &limits).unwrap_err();
        assert!(matches!(err, CompileError::Deadline(_)), "{err}");
        assert!(err.to_string().contains("took more than 0.2 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // Reaped by the caller's wait: the status is there at once.
        assert!(child.wait().is_ok());
    }
}

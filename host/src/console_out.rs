//! Lines a long-running host prints (`serve`'s progress, warnings) written
//! without `println!`/`eprintln!`, which panic when the stream is gone (a
//! closed pipe, a full disk behind a redirect): losing a progress line must
//! not take the host down.

use std::io::Write;

/// Writes one line to standard output; a failure to write is ignored.
pub fn say(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
}

/// Writes one line to standard error; a failure to write is ignored.
pub fn warn(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_closed_standard_output_does_not_panic() {
        // The test harness captures stdout; the point is that these return.
        super::say(format_args!("a line {}", 1));
        super::warn(format_args!("a warning {}", 2));
    }
}

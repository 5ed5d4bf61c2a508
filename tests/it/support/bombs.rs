//! Hostile inputs built by hand for the tests: compile bombs (components
//! that are tiny as bytes and enormous once flattened or nested), and a look
//! at a process's memory.

/// Appends `n` as unsigned LEB128 (section sizes).
pub fn leb(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n == 0 { byte } else { byte | 0x80 });
        if n == 0 {
            break;
        }
    }
}

/// Each level nests the previous one and instantiates it `fan_out` times.
pub fn fan_out_bomb(levels: usize, fan_out: usize) -> Vec<u8> {
    let mut inner = "(component (core module $m) (core instance (instantiate $m)))".to_string();
    for _ in 0..levels {
        let instances: String = (0..fan_out).map(|_| "(instance (instantiate $c))").collect();
        inner = format!("(component {} {instances})", inner.replacen("(component", "(component $c", 1));
    }
    wat::parse_str(&inner).unwrap()
}

/// Empty components nested `depth` deep, built by hand.
pub fn nesting_bomb(depth: usize) -> Vec<u8> {
    const HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let mut bytes = HEADER.to_vec();
    for _ in 1..depth {
        let mut outer = HEADER.to_vec();
        outer.push(0x04);
        leb(&mut outer, bytes.len());
        outer.extend_from_slice(&bytes);
        bytes = outer;
    }
    bytes
}

/// A field of /proc/<pid>/status, in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in {status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

//! Hostile connections against `stepwasm serve`'s API: a client that opens
//! many idle connections, or trickles its headers (slowloris), or sends its
//! body slowly, or reads no responses, or spreads its connections over many
//! addresses. Each time a well-behaved client on 127.0.0.1 is answered
//! within 2 s (a loose bound: a 2-core machine under load), the attacker
//! holds no more than its share, its connections are cut by their
//! deadlines, and `serve` lives on with its file descriptors back down.
//!
//! The attacker connects from other loopback addresses (Linux routes all of
//! 127.0.0.0/8 to lo), so the per-address cap can tell it from the client.

use crate::support::{scratch, ApiServer};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the good client may wait for an answer.
const GOOD_CLIENT_BOUND: Duration = Duration::from_secs(2);
/// serve's default connections per client address.
const PER_PEER: usize = 128;
const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The attacks run one at a time, so that one test's flood does not slow
/// another's good client.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The attacker's connections need file descriptors of this process too.
fn raise_own_fd_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &raised), 0);
            limit = raised;
        }
    }
    assert!(limit.rlim_cur >= 2_500, "these tests hold ~1,100 sockets: RLIMIT_NOFILE is only {}", limit.rlim_cur);
}

fn start(name: &str, args: &[&str]) -> (ApiServer, std::path::PathBuf, SocketAddr) {
    raise_own_fd_limit();
    let dir = scratch(name);
    let server = ApiServer::start(&dir.join("store.sqlite"), args);
    let addr: SocketAddr = server.endpoint.trim_start_matches("http://").parse().unwrap();
    (server, dir, addr)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A connection to `to` from the loopback address `source`.
fn connect_from(rt: &tokio::runtime::Runtime, source: Ipv4Addr, to: SocketAddr, recv_buffer: Option<u32>) -> std::io::Result<TcpStream> {
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
            .await
            .map_err(|_| std::io::Error::new(ErrorKind::TimedOut, "connect timed out"))??;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    })
}

const LIST: &str = "POST / HTTP/1.1\r\nHost: stepwasm\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: 2";

/// The well-behaved client: one ListStateMachines on a new connection from
/// 127.0.0.1; how long it took from connecting to the whole answer.
fn timed_request(addr: SocketAddr) -> Result<Duration, String> {
    let start = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(format!("{LIST}\r\nConnection: close\r\n\r\n{{}}").as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("no answer after {:?}: {e}", start.elapsed()))?;
    let text = String::from_utf8_lossy(&answer);
    if !(text.starts_with("HTTP/1.1 200") && text.contains("\"stateMachines\"")) {
        return Err(format!("answered {text:?}"));
    }
    Ok(start.elapsed())
}

/// Five requests of the good client, one after another; the slowest.
#[track_caller]
fn assert_good_client_served(addr: SocketAddr, during: &str) -> Duration {
    let latencies: Vec<Duration> =
        (0..5).map(|_| timed_request(addr).unwrap_or_else(|e| panic!("{during}: the good client: {e}"))).collect();
    let worst = *latencies.iter().max().unwrap();
    println!("{during}: the good client's latencies {latencies:?}");
    assert!(worst < GOOD_CLIENT_BOUND, "{during}: the good client waited {worst:?} (bound {GOOD_CLIENT_BOUND:?}): {latencies:?}");
    worst
}

/// How an attacker's connection looks from its end.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Nothing to read and not closed.
    Open,
    /// The server answered (e.g. 503 ThrottlingException) and closed.
    Answered(String),
    /// Closed (or reset) without an answer.
    Closed,
}

fn look(stream: &TcpStream) -> Seen {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0; 2048];
    let seen = match stream.peek(&mut buf) {
        Ok(0) => Seen::Closed,
        Ok(n) => Seen::Answered(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Seen::Open,
        Err(_) => Seen::Closed,
    };
    stream.set_nonblocking(false).unwrap();
    seen
}

/// What serve's descriptors are, for a failure's message.
fn fd_list(pid: u32) -> Vec<String> {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten();
    entries.map(|e| std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default()).collect()
}

/// serve's sockets: its listener and the connections it holds.
fn sockets(pid: u32) -> usize {
    fd_list(pid).iter().filter(|target| target.starts_with("socket:")).count()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|entries| entries.count()).unwrap_or_else(|e| panic!("serve (pid {pid}) is gone: {e}"))
}

/// Polls `done` every 100 ms for at most `within`; how long it took, or None.
fn wait_for(within: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if done() {
            return Some(start.elapsed());
        }
        if start.elapsed() > within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// serve's descriptors return to `baseline` (a little slack for its store's
/// files) once the attacker's connections are gone, and it still answers.
#[track_caller]
fn assert_recovered(server: &ApiServer, addr: SocketAddr, baseline: usize, after: &str) {
    let pid = server.pid();
    let back = wait_for(Duration::from_secs(20), || open_fds(pid) <= baseline + 4);
    assert!(back.is_some(), "after {after}: serve holds {} descriptors, {baseline} before", open_fds(pid));
    assert_good_client_served(addr, &format!("after {after}"));
}

/// (a), (d), (e) and the idle half of (c): 1,100 idle connections from one
/// address.
#[test]
fn an_idle_flood_from_one_address_holds_its_share_and_delays_nobody() {
    let _one = one_at_a_time();
    let (server, dir, addr) = start("conn-idle", &[]);
    timed_request(addr).expect("serve answers before the attack");
    let baseline = open_fds(server.pid());
    let rt = runtime();
    let attack: Vec<TcpStream> = (0..1_100).filter_map(|_| connect_from(&rt, ATTACKER, addr, None).ok()).collect();
    let opened = Instant::now();
    assert!(attack.len() >= 1_000, "the attacker could open only {} connections", attack.len());

    let worst = assert_good_client_served(addr, "1,100 idle connections from 127.0.0.2");
    println!("MEASURED idle flood: worst good-client latency {worst:?}");

    // Beyond its 128, the attacker's connections were answered 503
    // ThrottlingException and closed; serve holds no more than those.
    let during = open_fds(server.pid());
    let seen: Vec<Seen> = attack.iter().map(look).collect();
    let open = seen.iter().filter(|s| **s == Seen::Open).count();
    let throttled: Vec<&String> = seen.iter().filter_map(|s| if let Seen::Answered(text) = s { Some(text) } else { None }).collect();
    println!("idle flood: {open} open, {} throttled, serve's descriptors {baseline} -> {during}", throttled.len());
    assert!(open <= PER_PEER, "{open} of the attacker's connections are open, more than the {PER_PEER} per address");
    assert!(during <= baseline + PER_PEER + 4, "serve holds {during} descriptors ({baseline} before the attack)");
    assert!(throttled.len() >= attack.len() / 2, "only {} of {} connections were refused", throttled.len(), attack.len());
    for text in &throttled {
        assert!(text.starts_with("HTTP/1.1 503"), "a refused connection was answered {text:?}");
        assert!(
            text.contains("ThrottlingException") && text.contains("too many connections from 127.0.0.2: at most 128 at once"),
            "{text}"
        );
    }

    // Its idle connections are closed after the header (idle) deadline.
    let cut = wait_for(Duration::from_secs(15), || attack.iter().all(|s| look(s) != Seen::Open));
    assert!(cut.is_some(), "idle connections still open {:?} after they were opened", opened.elapsed());
    println!("idle flood: every idle connection closed {:?} after the last was opened", opened.elapsed());
    drop(attack);
    assert_recovered(&server, addr, baseline, "the idle flood");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// (b), (e) and the trickle half of (c): 1,030 connections each sending a
/// byte of its headers every second.
#[test]
fn a_slowloris_from_one_address_is_cut_at_the_header_deadline_and_delays_nobody() {
    let _one = one_at_a_time();
    let (server, dir, addr) = start("conn-slowloris", &[]);
    timed_request(addr).expect("serve answers before the attack");
    let baseline = open_fds(server.pid());
    let rt = runtime();
    let mut attack: Vec<TcpStream> = Vec::new();
    for _ in 0..1_030 {
        if let Ok(mut stream) = connect_from(&rt, ATTACKER, addr, None) {
            let _ = stream.write_all(b"POST / HTTP/1.1\r\nHost: stepwasm\r\nX-Slow: ");
            attack.push(stream);
        }
    }
    assert!(attack.len() >= 1_000, "the attacker could open only {} connections", attack.len());
    let opened = Instant::now();
    let trickler = std::thread::spawn(move || {
        // A byte a second on every connection still open, until none is.
        let mut alive: Vec<TcpStream> = attack;
        while !alive.is_empty() && opened.elapsed() < Duration::from_secs(25) {
            alive.retain(|s| look(s) == Seen::Open);
            for mut stream in &alive {
                let _ = stream.write_all(b"a");
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        (alive.len(), opened.elapsed())
    });
    std::thread::sleep(Duration::from_millis(1_500));
    let worst = assert_good_client_served(addr, "1,030 slowloris connections from 127.0.0.2");
    println!("MEASURED slowloris: worst good-client latency {worst:?}");
    let during = open_fds(server.pid());
    assert!(during <= baseline + PER_PEER + 4, "serve holds {during} descriptors ({baseline} before the attack)");

    let (left, when) = trickler.join().unwrap();
    assert_eq!(left, 0, "{left} trickling connections were still open {when:?} after they were opened (header deadline: 5 s)");
    println!("slowloris: every trickling connection cut {when:?} after the last was opened");
    assert!(when < Duration::from_secs(20), "the trickling connections lasted {when:?}");
    assert_recovered(&server, addr, baseline, "the slowloris");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// (c): an idle keep-alive connection is closed; a slow body is answered
/// 408; a client that reads no responses is cut.
#[test]
fn idle_keep_alive_slow_bodies_and_slow_readers_are_cut() {
    let _one = one_at_a_time();
    let (server, dir, addr) = start("conn-deadlines", &[]);
    timed_request(addr).expect("serve answers");
    let baseline = open_fds(server.pid());

    // Keep-alive: one request answered, then nothing: closed by serve.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    stream.write_all(format!("{LIST}\r\n\r\n{{}}").as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"stateMachines\"") {
        let n = stream.read(&mut buf).expect("the keep-alive request is answered");
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&answer));
    let idle = Instant::now();
    let read = stream.read(&mut buf);
    println!("keep-alive: closed after {:?} idle ({read:?})", idle.elapsed());
    assert!(matches!(read, Ok(0)), "an idle keep-alive connection: {read:?} after {:?}", idle.elapsed());
    assert!(idle.elapsed() < Duration::from_secs(15), "an idle keep-alive connection lasted {:?}", idle.elapsed());

    // A body announced as 100 bytes, 10 sent: 408 after the body deadline.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    let head = LIST.replace("Content-Length: 2", "Content-Length: 100");
    stream.write_all(format!("{head}\r\n\r\n{{\"a\": \"12").as_bytes()).unwrap();
    let sent = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    println!("slow body: answered after {:?}: {}", sent.elapsed(), text.lines().next().unwrap_or(""));
    assert!(text.starts_with("HTTP/1.1 408"), "a slow body was answered {text:?} after {:?}", sent.elapsed());
    assert!(text.contains("RequestTimeout") && text.contains("did not arrive within 10 s"), "{text}");
    assert!(sent.elapsed() < Duration::from_secs(20), "the slow body was cut only after {:?}", sent.elapsed());

    // A client that asks for the console's script 2,000 times and reads
    // nothing: serve's writes stall, and the connection is dropped.
    let rt = runtime();
    // Counted in sockets: serve's side of the connections above may close
    // a moment after the client saw them closed.
    wait_for(Duration::from_secs(10), || sockets(server.pid()) <= 1);
    let before = sockets(server.pid());
    let mut reader = connect_from(&rt, Ipv4Addr::new(127, 0, 0, 3), addr, Some(4096)).unwrap();
    reader.set_nonblocking(true).unwrap();
    let requests = "GET /app.js HTTP/1.1\r\nHost: stepwasm\r\n\r\n".repeat(2_000);
    let mut written = 0;
    while written < requests.len() {
        match reader.write(&requests.as_bytes()[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("writing the pipelined requests: {e}"),
        }
    }
    let stalled = Instant::now();
    let held = wait_for(Duration::from_secs(5), || sockets(server.pid()) > before);
    assert!(held.is_some(), "serve does not hold the slow reader's connection ({before} sockets before: {:?})", fd_list(server.pid()));
    let cut = wait_for(Duration::from_secs(40), || sockets(server.pid()) <= before);
    println!("slow reader: {written} bytes of requests, connection dropped after {cut:?}");
    assert!(cut.is_some_and(|t| t < Duration::from_secs(25)), "a client reading nothing was held {:?}", stalled.elapsed());
    drop(reader);
    assert_recovered(&server, addr, baseline, "the deadlines");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// An attacker with many addresses fills the whole table (16 per address,
/// 64 in all here): a newcomer still gets in, taking an idle connection's
/// place, and nobody holds more than the caps.
#[test]
fn many_addresses_fill_the_table_yet_a_newcomer_gets_in() {
    let _one = one_at_a_time();
    let (server, dir, addr) = start("conn-many", &["--api-max-connections", "64", "--api-connections-per-peer", "16"]);
    timed_request(addr).expect("serve answers before the attack");
    let baseline = open_fds(server.pid());
    let rt = runtime();
    let mut attack: Vec<(Ipv4Addr, TcpStream)> = Vec::new();
    for host in 2..=9 {
        let source = Ipv4Addr::new(127, 0, 0, host);
        for _ in 0..20 {
            attack.push((source, connect_from(&rt, source, addr, None).expect("connect")));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let worst = assert_good_client_served(addr, "160 idle connections from 8 addresses, 64 at most");
    println!("MEASURED many addresses: worst good-client latency {worst:?}");
    let seen: Vec<(Ipv4Addr, Seen)> = attack.iter().map(|(source, s)| (*source, look(s))).collect();
    let open = seen.iter().filter(|(_, s)| *s == Seen::Open).count();
    assert!(open <= 64, "{open} connections open, more than the total of 64");
    for host in 2..=9 {
        let source = Ipv4Addr::new(127, 0, 0, host);
        let held = seen.iter().filter(|(from, s)| *from == source && *s == Seen::Open).count();
        assert!(held <= 16, "{source} holds {held}, more than 16");
    }
    let answers: Vec<&String> = seen.iter().filter_map(|(_, s)| if let Seen::Answered(text) = s { Some(text) } else { None }).collect();
    assert!(
        answers.iter().any(|t| t.contains("holds its maximum of 64 connections")),
        "no newcomer was refused for a full table: {answers:?}"
    );
    assert!(answers.iter().any(|t| t.contains("at most 16 at once")), "no connection was refused for its address's cap: {answers:?}");
    let evicted = seen.iter().filter(|(_, s)| *s == Seen::Closed).count();
    println!("many addresses: {open} open, {} refused, {evicted} evicted", answers.len());
    assert!(evicted > 0, "no idle connection was evicted for a newcomer");
    drop(attack);
    assert_recovered(&server, addr, baseline, "the many-address flood");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

//! Who may hold the API's connections: the admission policy `serve_api`
//! applies to every connection right after accepting it (accepting never
//! waits, so a flood cannot keep a newcomer in the listen backlog).
//!
//! - Per client address: at most `--api-connections-per-peer` (128) open at
//!   once; an IPv6 client's whole /64 counts as one address (a host usually
//!   owns one). Past that a connection is answered `503 ThrottlingException`
//!   and closed at once.
//! - In total: at most `--api-max-connections` (4,096, less if the process may
//!   not open that many files with room to spare; the soft `RLIMIT_NOFILE` is
//!   raised to the hard one first). When the table is full, a newcomer takes
//!   the place of an idle connection (one without a request in service) of the
//!   address holding the most connections, provided that address holds more
//!   than the newcomer's; otherwise the newcomer is refused like above.
//!
//! Together with the deadlines of `api/mod.rs` (request headers within 5 s of
//! opening or of the previous response, so also the idle keep-alive; body
//! within 10 s; a response write that makes no progress for 10 s), this
//! bounds what a client can hold: one address at most 128 connections, each
//! idle or trickling one for at most 5 s. An attacker with many addresses can
//! fill the table, but every newcomer then evicts one of the idle connections
//! of the biggest holder, so to keep others out it must hold the whole table
//! with requests actually in service (each bounded by the action it runs) or
//! open ~800 new connections a second to replace the ones the 5 s header
//! deadline closes, and even then a newcomer displaces one of them.

use clap::Args;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Connections one client address may hold at once, by default.
pub const PER_PEER: usize = 128;

/// Connections the API holds at once, by default (when the file limit allows).
pub const MAX_CONNECTIONS: usize = 4_096;

/// File descriptors kept back from the API for everything else `serve` opens
/// (its store, modules, compilations, outgoing http): at least this many, or
/// a quarter of the limit when that is more.
const FD_RESERVE: u64 = 256;

/// The smallest total cap, however low the file limit.
const MIN_CONNECTIONS: usize = 16;

/// `serve`'s flags for the API's connections.
#[derive(Args, Clone, Debug, Default)]
pub struct ConnectionArgs {
    /// Connections the API holds at once (default 4,096, or fewer if the
    /// process may not open that many files; never more than that allows).
    #[arg(long)]
    pub api_max_connections: Option<usize>,
    /// Connections one client address (an IPv6 /64) may hold at once; more
    /// are answered 503 ThrottlingException. Behind a reverse proxy every
    /// client has the proxy's address: raise it there.
    #[arg(long, default_value_t = PER_PEER)]
    pub api_connections_per_peer: usize,
}

/// The caps in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub total: usize,
    pub per_peer: usize,
}

impl Policy {
    /// The caps `args` ask for, the total sized from the process's file
    /// limit (raised to its hard limit first). Says on stderr when the file
    /// limit lowers what was asked.
    pub fn from_args(args: &ConnectionArgs) -> Policy {
        let budget = fd_budget(raise_fd_limit());
        let asked = args.api_max_connections.unwrap_or(MAX_CONNECTIONS);
        if asked > budget && args.api_max_connections.is_some() {
            crate::console_out::warn(format_args!(
                "warning: api: --api-max-connections {asked} is more than the file limit allows; {budget} it is"
            ));
        }
        Policy { total: asked.min(budget).max(1), per_peer: args.api_connections_per_peer.max(1) }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit
/// in force afterwards (`u64::MAX` when unlimited or unknown).
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return u64::MAX;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        // rlim_t is u64 on Linux, not on every target.
        #[allow(clippy::unnecessary_cast)]
        let soft = limit.rlim_cur as u64;
        soft
    }
}

/// How many connections a file limit of `soft` leaves room for.
fn fd_budget(soft: u64) -> usize {
    let room = soft.saturating_sub(FD_RESERVE.max(soft / 4));
    usize::try_from(room).unwrap_or(usize::MAX).max(MIN_CONNECTIONS)
}

/// What the caps count as one client: an IPv4 address, or an IPv6 /64 (an
/// IPv4-mapped IPv6 address is its IPv4 address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerKey(IpAddr);

impl PeerKey {
    pub fn of(ip: IpAddr) -> PeerKey {
        match ip {
            IpAddr::V4(v4) => PeerKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => PeerKey(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    PeerKey(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
        }
    }
}

impl std::fmt::Display for PeerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// One admitted connection, as the table sees it.
struct Slot {
    id: u64,
    /// Requests of this connection in service (read whole, not yet
    /// answered): a connection with none may be evicted.
    in_service: AtomicUsize,
    /// Told when the connection was evicted: its task then drops it.
    evicted: tokio::sync::Notify,
}

#[derive(Default)]
struct Table {
    /// Each address's connections, oldest first.
    peers: HashMap<PeerKey, Vec<Arc<Slot>>>,
    total: usize,
    next_id: u64,
}

impl Table {
    fn remove(&mut self, peer: PeerKey, id: u64) -> bool {
        let Some(slots) = self.peers.get_mut(&peer) else { return false };
        let Some(at) = slots.iter().position(|s| s.id == id) else { return false };
        slots.remove(at);
        if slots.is_empty() {
            self.peers.remove(&peer);
        }
        self.total -= 1;
        true
    }

    /// Makes room for a newcomer of `peer`, which holds `holding`: evicts the
    /// oldest idle connection of the address holding the most (more than
    /// `holding`) among those that have an idle one. False if there is none.
    fn evict_for(&mut self, holding: usize) -> bool {
        // A scan of every address: this runs only while the table is full.
        let victim = self
            .peers
            .iter()
            .filter(|(_, slots)| slots.len() > holding)
            .filter_map(|(peer, slots)| {
                slots.iter().find(|s| s.in_service.load(Ordering::Acquire) == 0).map(|s| (*peer, slots.len(), Arc::clone(s)))
            })
            .max_by_key(|(_, held, _)| *held);
        let Some((peer, _, slot)) = victim else { return false };
        self.remove(peer, slot.id);
        slot.evicted.notify_one();
        true
    }
}

/// Why a connection was not admitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("too many connections from {peer}: at most {limit} at once")]
    PeerFull { peer: PeerKey, limit: usize },
    #[error("the API holds its maximum of {limit} connections and {peer} already holds as many as any other client")]
    Full { peer: PeerKey, limit: usize },
}

/// The table of admitted connections, shared by the accept loop and the
/// connections' tasks.
pub struct Admissions {
    policy: Policy,
    table: Mutex<Table>,
}

impl Admissions {
    pub fn new(policy: Policy) -> Arc<Admissions> {
        Arc::new(Admissions { policy, table: Mutex::new(Table::default()) })
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Connections held now.
    pub fn held(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table stays consistent at every step, so a panic elsewhere
        // while it was held does not make it wrong.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Admits a connection from `ip`, evicting another if the table is full
    /// (see the module doc), or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let peer = PeerKey::of(ip);
        let mut table = self.lock();
        let holding = table.peers.get(&peer).map_or(0, Vec::len);
        if holding >= self.policy.per_peer {
            return Err(Refusal::PeerFull { peer, limit: self.policy.per_peer });
        }
        if table.total >= self.policy.total && !table.evict_for(holding) {
            return Err(Refusal::Full { peer, limit: self.policy.total });
        }
        table.next_id += 1;
        let slot = Arc::new(Slot { id: table.next_id, in_service: AtomicUsize::new(0), evicted: tokio::sync::Notify::new() });
        table.peers.entry(peer).or_default().push(Arc::clone(&slot));
        table.total += 1;
        Ok(Ticket { admissions: Arc::clone(self), peer, slot })
    }
}

/// An admitted connection's place in the table, given back when dropped.
pub struct Ticket {
    admissions: Arc<Admissions>,
    peer: PeerKey,
    slot: Arc<Slot>,
}

impl Ticket {
    /// Completes when the connection was evicted to make room for another.
    pub async fn evicted(&self) {
        self.slot.evicted.notified().await
    }

    /// Marks a request of this connection in service (not evictable) until
    /// the guard is dropped.
    pub fn in_service(&self) -> InService {
        self.slot.in_service.fetch_add(1, Ordering::AcqRel);
        InService(Arc::clone(&self.slot))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Already gone if it was evicted.
        self.admissions.lock().remove(self.peer, self.slot.id);
    }
}

/// A request in service; see [`Ticket::in_service`].
pub struct InService(Arc<Slot>);

impl Drop for InService {
    fn drop(&mut self) {
        self.0.in_service.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_holds_at_most_its_share() {
        let table = Admissions::new(Policy { total: 100, per_peer: 3 });
        let held: Vec<Ticket> = (0..3).map(|_| table.admit(ip("10.0.0.1")).unwrap()).collect();
        let refused = table.admit(ip("10.0.0.1")).err().unwrap();
        assert_eq!(refused, Refusal::PeerFull { peer: PeerKey::of(ip("10.0.0.1")), limit: 3 });
        assert_eq!(refused.to_string(), "too many connections from 10.0.0.1: at most 3 at once");
        assert!(table.admit(ip("10.0.0.2")).is_ok(), "another address is not counted with it");
        drop(held);
        assert_eq!(table.held(), 0);
        assert!(table.admit(ip("10.0.0.1")).is_ok(), "a place given back is free again");
    }

    #[test]
    fn an_ipv6_64_is_one_client_and_mapped_ipv4_is_ipv4() {
        assert_eq!(PeerKey::of(ip("2001:db8:1:2::5")), PeerKey::of(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(PeerKey::of(ip("2001:db8:1:2::5")), PeerKey::of(ip("2001:db8:1:3::5")));
        assert_eq!(PeerKey::of(ip("::ffff:10.0.0.1")), PeerKey::of(ip("10.0.0.1")));
        assert_eq!(PeerKey::of(ip("2001:db8:1:2::5")).to_string(), "2001:db8:1:2::/64");
    }

    #[tokio::test]
    async fn a_full_table_evicts_an_idle_connection_of_the_biggest_holder() {
        let table = Admissions::new(Policy { total: 4, per_peer: 4 });
        let big: Vec<Ticket> = (0..3).map(|_| table.admit(ip("10.0.0.9")).unwrap()).collect();
        let busy = big[0].in_service();
        let small = table.admit(ip("10.0.0.1")).unwrap();
        let newcomer = table.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(table.held(), 4);
        // The biggest holder's oldest idle connection went (not the one in
        // service), and it was told.
        tokio::time::timeout(std::time::Duration::from_secs(1), big[1].evicted()).await.expect("big[1] evicted");
        assert_eq!(table.lock().peers[&PeerKey::of(ip("10.0.0.9"))].len(), 2);
        // 10.0.0.1 holds 1, as many as 10.0.0.2: a second one of 10.0.0.2
        // takes from the biggest (2) again; then all hold equal shares and
        // the next newcomer of a holder is refused.
        let second = table.admit(ip("10.0.0.2")).unwrap();
        let refused = table.admit(ip("10.0.0.2")).err().unwrap();
        assert!(matches!(refused, Refusal::Full { limit: 4, .. }), "{refused}");
        drop(busy);
        drop((small, newcomer, second));
        assert_eq!(table.held(), 1, "the evicted tickets gave nothing back twice");
        drop(big);
        assert_eq!(table.held(), 0);
    }

    #[test]
    fn busy_connections_are_not_evicted() {
        let table = Admissions::new(Policy { total: 2, per_peer: 2 });
        let held: Vec<Ticket> = (0..2).map(|_| table.admit(ip("10.0.0.9")).unwrap()).collect();
        let _busy: Vec<InService> = held.iter().map(Ticket::in_service).collect();
        assert!(matches!(table.admit(ip("10.0.0.1")), Err(Refusal::Full { .. })));
        assert_eq!(table.held(), 2);
    }

    #[test]
    fn the_total_is_sized_from_the_file_limit() {
        assert_eq!(fd_budget(20_000), 15_000);
        assert_eq!(fd_budget(1_024), 768);
        assert_eq!(fd_budget(100), MIN_CONNECTIONS);
        assert!(fd_budget(u64::MAX) > MAX_CONNECTIONS);
    }
}

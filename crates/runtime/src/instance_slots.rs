//! Admission of task invocations to the instance pool: at most `capacity`
//! component instances are alive at once in this process; an invocation
//! that finds none free waits its turn instead of failing.
//!
//! wasmtime's pooling allocator refuses an instantiation past its size
//! (`maximum concurrent limit of N for component instances reached`), and
//! `serve` drives far more executions at once (`--max-active`) than the pool
//! holds. So every invocation takes a [`Slot`] before its store is made and
//! holds it until the store is dropped; the waiters form one FIFO queue
//! (tokio's semaphore is fair), so an execution whose task waits is served
//! before any task that asked later. A waiting invocation whose future is
//! dropped (its execution was stopped) leaves the queue at once.
//!
//! The slots are process-wide ([`InstanceSlots::global`]), sized once by
//! `serve --instances` ([`configure`]) before any engine exists; every
//! engine's pool is sized from the same number ([`PoolSizes`]), so a pool is
//! never asked for more instances than there are slots.
//!
//! Saturation: while [`max_queued`] invocations or more wait for a slot,
//! [`InstanceSlots::saturated`] says so, and the API answers new executions
//! with `ThrottlingException` (retryable) rather than queue ever more work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Instances alive at once by default (the pool's size before slots existed).
pub const DEFAULT_INSTANCES: usize = 256;

/// The most `--instances` may ask for: each slot reserves address space in
/// every loaded machine's pool (two linear memories, ~8 GiB of it), and a
/// process has 128 TiB.
pub const MAX_INSTANCES: usize = 4096;

/// Invocations waiting for a slot at which the host counts as saturated,
/// by default: generous, so that ordinary bursts are queued, not refused
/// (`serve` waits for at most `--max-active` executions' tasks at once).
pub const DEFAULT_MAX_QUEUED: usize = 100_000;

static MAX_QUEUED: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_QUEUED);

/// Sets the saturation bound (`serve --max-queued`); at least 1.
pub fn set_max_queued(bound: usize) {
    MAX_QUEUED.store(bound.max(1), Ordering::Relaxed);
}

/// The saturation bound in force.
pub fn max_queued() -> usize {
    MAX_QUEUED.load(Ordering::Relaxed)
}

/// How many of each pooled resource an engine's pool holds for `instances`
/// slots: what one invocation of the guests uses, with room to spare. A
/// no_std handler has 1 memory, a few tables and 5–6 core instances, a std
/// one with WASI 18–19 core instances; an invocation may create 32 instances
/// by default (`max_instances`), and core instances cost the pool only a
/// count, so that is their share. Memories and tables reserve address space
/// per slot: two and four each. A component needing more than its share is
/// held up by [`Slot::widen`], not failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSizes {
    pub component_instances: u32,
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
    /// Fiber stacks: one per async call in flight (instantiation, the
    /// handler), with room for one a store keeps after its call.
    pub stacks: u32,
}

impl PoolSizes {
    pub fn for_instances(instances: usize) -> PoolSizes {
        let n = u32::try_from(instances.clamp(1, MAX_INSTANCES)).unwrap_or(MAX_INSTANCES as u32);
        PoolSizes { component_instances: n, core_instances: 32 * n, memories: 2 * n, tables: 4 * n, stacks: 2 * n }
    }
}

/// Why the slots could not be sized.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SlotsError {
    #[error("--instances {0}: must be 1 to {MAX_INSTANCES}")]
    OutOfRange(usize),
    #[error("the instance slots are already in use with {0}; set their number before any module is loaded")]
    AlreadySized(usize),
}

static GLOBAL: OnceLock<InstanceSlots> = OnceLock::new();

/// Sizes the process's slots (and so every pool made afterwards) to
/// `instances`; only before anything used them.
pub fn configure(instances: usize) -> Result<(), SlotsError> {
    if !(1..=MAX_INSTANCES).contains(&instances) {
        return Err(SlotsError::OutOfRange(instances));
    }
    match GLOBAL.get_or_init(|| InstanceSlots::new(instances)).capacity() {
        sized if sized == instances => Ok(()),
        sized => Err(SlotsError::AlreadySized(sized)),
    }
}

/// A fair queue for a fixed number of instance places.
pub struct InstanceSlots {
    semaphore: Arc<Semaphore>,
    capacity: usize,
    waiting: AtomicUsize,
}

/// One instance place, held until dropped (possibly several places: see
/// [`Slot::widen`]).
pub struct Slot {
    permits: OwnedSemaphorePermit,
    semaphore: Arc<Semaphore>,
    capacity: usize,
}

/// Counts one waiter while it exists, so a dropped wait is uncounted too.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl InstanceSlots {
    pub fn new(capacity: usize) -> InstanceSlots {
        let capacity = capacity.max(1);
        InstanceSlots { semaphore: Arc::new(Semaphore::new(capacity)), capacity, waiting: AtomicUsize::new(0) }
    }

    /// The process's slots: [`configure`]d, else [`DEFAULT_INSTANCES`].
    pub fn global() -> &'static InstanceSlots {
        GLOBAL.get_or_init(|| InstanceSlots::new(DEFAULT_INSTANCES))
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Invocations waiting for a slot right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// `Some(waiting)` when at least [`max_queued`] invocations wait.
    pub fn saturated(&self) -> Option<usize> {
        self.saturated_at(max_queued())
    }

    fn saturated_at(&self, bound: usize) -> Option<usize> {
        let waiting = self.waiting();
        (waiting >= bound).then_some(waiting)
    }

    /// Slots held right now.
    pub fn in_use(&self) -> usize {
        self.capacity - self.semaphore.available_permits().min(self.capacity)
    }

    /// A slot, once every invocation that asked before has had one.
    /// Cancel-safe: dropping the future gives up the place in the queue.
    pub async fn acquire(&self) -> Slot {
        let _counted = Waiting::enter(&self.waiting);
        // The semaphore is never closed.
        let permits = match Arc::clone(&self.semaphore).acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("the instance slots' semaphore is never closed"),
        };
        Slot { permits, semaphore: Arc::clone(&self.semaphore), capacity: self.capacity }
    }

    /// A slot if one is free now.
    pub fn try_acquire(&self) -> Option<Slot> {
        let permits = Arc::clone(&self.semaphore).try_acquire_owned().ok()?;
        Some(Slot { permits, semaphore: Arc::clone(&self.semaphore), capacity: self.capacity })
    }
}

impl Slot {
    /// How many places this slot holds.
    pub fn places(&self) -> usize {
        self.permits.num_permits()
    }

    /// Takes one more place, waiting in the same queue; false when it holds
    /// them all already. For an instantiation the pool refused although it
    /// had a slot (a component that needs more memories, tables or core
    /// instances than its share): each extra place is one instance fewer
    /// that can start, so the pool empties enough for it, at worst entirely.
    pub async fn widen(&mut self, slots: &InstanceSlots) -> bool {
        if self.places() >= self.capacity {
            return false;
        }
        let _counted = Waiting::enter(&slots.waiting);
        match Arc::clone(&self.semaphore).acquire_owned().await {
            Ok(more) => {
                self.permits.merge(more);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Polls `future` once, without a runtime (the semaphore needs none).
    fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn waiters_are_served_in_the_order_they_asked() {
        let slots = InstanceSlots::new(2);
        let first = slots.try_acquire().expect("a free slot");
        let second = slots.try_acquire().expect("a free slot");
        assert!(slots.try_acquire().is_none());
        assert_eq!(slots.in_use(), 2);
        let mut a = pin!(slots.acquire());
        let mut b = pin!(slots.acquire());
        let mut c = pin!(slots.acquire());
        assert!(poll_once(a.as_mut()).is_pending() && poll_once(b.as_mut()).is_pending() && poll_once(c.as_mut()).is_pending());
        assert_eq!(slots.waiting(), 3);
        assert_eq!(slots.saturated_at(3), Some(3));
        assert_eq!(slots.saturated_at(4), None);
        // c asks again first: it is still behind a and b.
        drop(first);
        assert!(poll_once(c.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending(), "b waits behind a");
        let Poll::Ready(got_a) = poll_once(a.as_mut()) else { panic!("a asked first") };
        drop(second);
        assert!(poll_once(c.as_mut()).is_pending());
        let Poll::Ready(got_b) = poll_once(b.as_mut()) else { panic!("b asked second") };
        assert_eq!(slots.waiting(), 1);
        drop(got_a);
        let Poll::Ready(got_c) = poll_once(c.as_mut()) else { panic!("c is next") };
        assert_eq!(slots.waiting(), 0);
        drop((got_b, got_c));
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn a_dropped_wait_gives_up_its_place() {
        let slots = InstanceSlots::new(1);
        let held = slots.try_acquire().expect("a free slot");
        {
            let mut stopped = pin!(slots.acquire());
            assert!(poll_once(stopped.as_mut()).is_pending());
            assert_eq!(slots.waiting(), 1);
        }
        assert_eq!(slots.waiting(), 0, "the stopped execution's wait is uncounted");
        let mut next = pin!(slots.acquire());
        assert!(poll_once(next.as_mut()).is_pending());
        drop(held);
        assert!(poll_once(next.as_mut()).is_ready(), "the place went to the next waiter, not the dropped one");
    }

    #[test]
    fn a_slot_widens_up_to_all_places_and_gives_them_all_back() {
        let slots = InstanceSlots::new(3);
        let mut slot = slots.try_acquire().expect("a free slot");
        let other = slots.try_acquire().expect("a free slot");
        {
            let mut widen = pin!(slot.widen(&slots));
            assert!(poll_once(widen.as_mut()).is_ready());
        }
        assert_eq!(slot.places(), 2);
        {
            let mut widen = pin!(slot.widen(&slots));
            assert!(poll_once(widen.as_mut()).is_pending(), "the last place is held by another invocation");
            assert_eq!(slots.waiting(), 1);
            drop(other);
            assert_eq!(poll_once(widen.as_mut()), Poll::Ready(true));
        }
        assert_eq!(slot.places(), 3);
        {
            let mut full = pin!(slot.widen(&slots));
            assert_eq!(poll_once(full.as_mut()), Poll::Ready(false), "it holds every place already");
        }
        drop(slot);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn pools_are_sized_from_the_instances() {
        let sizes = PoolSizes::for_instances(256);
        assert_eq!(sizes, PoolSizes { component_instances: 256, core_instances: 8192, memories: 512, tables: 1024, stacks: 512 });
        assert_eq!(PoolSizes::for_instances(1_000_000).component_instances, MAX_INSTANCES as u32);
        assert_eq!(configure(0), Err(SlotsError::OutOfRange(0)));
        assert_eq!(configure(MAX_INSTANCES + 1), Err(SlotsError::OutOfRange(MAX_INSTANCES + 1)));
    }
}

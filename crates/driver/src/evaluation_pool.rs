//! A few threads of their own for the evaluations that are slow (a state
//! whose paths, templates, JSONata or Choice rules take more than
//! [`INLINE_EVALUATION_LIMIT`](stepwasm_jsonata::evaluation_budget::INLINE_EVALUATION_LIMIT)),
//! so that they never hold an async worker: the API and every other
//! execution go on while they compute.
//!
//! Why not `tokio::task::spawn_blocking`: its pool grows to 512 threads, and
//! every one of them would compete with the API's workers for the cores; a
//! few definitions could take the whole host. Here at most
//! [`evaluation_threads`] evaluations run at once (half the cores, at least
//! one), whatever their number, and the rest wait their turn in order
//! (a fair semaphore: a waiting evaluation holds no thread).

use std::sync::{mpsc, Arc, Mutex, OnceLock};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

/// Jobs started on any pool of the process so far.
static JOBS_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many jobs the process's pools have started (a statistic, and for tests).
pub fn jobs_run() -> u64 {
    JOBS_RUN.load(std::sync::atomic::Ordering::Relaxed)
}

/// Why a job gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("the evaluation panicked")]
    Panicked,
    #[error("the evaluation threads could not be started: {0}")]
    NoThreads(String),
}

/// The evaluation threads and the turns to use them.
pub struct EvaluationPool {
    /// One permit per thread: a job holds one while queued and running.
    turns: Arc<Semaphore>,
    jobs: Mutex<mpsc::Sender<(Job, OwnedSemaphorePermit)>>,
}

/// How many threads evaluate at once: half the cores, at least one.
pub fn evaluation_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl EvaluationPool {
    /// A pool of `threads` threads (named `stepwasm-eval-<i>`).
    pub fn new(threads: usize) -> Result<EvaluationPool, PoolError> {
        let threads = threads.max(1);
        let (send, receive) = mpsc::channel::<(Job, OwnedSemaphorePermit)>();
        let receive = Arc::new(Mutex::new(receive));
        for i in 0..threads {
            let receive = Arc::clone(&receive);
            std::thread::Builder::new()
                .name(format!("stepwasm-eval-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job.
                    let next = receive.lock().map_err(|_| ()).and_then(|r| r.recv().map_err(|_| ()));
                    let Ok((job, permit)) = next else { return };
                    JOBS_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // A panicking job drops its result's sender (its caller
                    // sees Panicked); the thread goes on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    drop(permit);
                })
                .map_err(|e| PoolError::NoThreads(e.to_string()))?;
        }
        Ok(EvaluationPool { turns: Arc::new(Semaphore::new(threads)), jobs: Mutex::new(send) })
    }

    /// The process's pool, started on first use.
    pub fn shared() -> Result<&'static EvaluationPool, PoolError> {
        static POOL: OnceLock<Result<EvaluationPool, PoolError>> = OnceLock::new();
        POOL.get_or_init(|| EvaluationPool::new(evaluation_threads())).as_ref().map_err(Clone::clone)
    }

    /// Runs `job` on one of the pool's threads once it is this caller's turn
    /// (waiting without holding a thread) and returns what it gave. A caller
    /// that stops waiting leaves the job to end on its own.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolError> {
        let permit = Arc::clone(&self.turns).acquire_owned().await.map_err(|_| PoolError::NoThreads("the pool is closed".into()))?;
        let (answer, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(job());
        });
        let sent = self.jobs.lock().map_err(|_| PoolError::Panicked)?.send((job, permit));
        sent.map_err(|_| PoolError::NoThreads("the evaluation threads have stopped".into()))?;
        result.await.map_err(|_| PoolError::Panicked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_run_on_the_pool_at_most_its_size_at_once() {
        let pool = Arc::new(EvaluationPool::new(2).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut jobs = Vec::new();
        for i in 0..8 {
            let (pool, running, most) = (Arc::clone(&pool), Arc::clone(&running), Arc::clone(&most));
            jobs.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    (i, std::thread::current().name().map(str::to_string))
                })
                .await
            }));
        }
        for (i, job) in jobs.into_iter().enumerate() {
            let (n, thread) = job.await.unwrap().unwrap();
            assert_eq!(n, i);
            assert!(thread.is_some_and(|t| t.starts_with("stepwasm-eval-")));
        }
        assert!(most.load(Ordering::SeqCst) <= 2);
        // A job that panics is an error; the pool goes on.
        assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, Err(PoolError::Panicked));
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }
}
